//! ResourceQuota and LimitRange as a tenant meets them (the books' multi-tenancy scenario):
//! quota admission refusals in upstream's words, LimitRange defaults letting pods in, the quota
//! controller's Used numbers, and what ReplicaSets and Deployments report on refused pods.

mod common;

use common::{Cluster, events, eventually};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{ConfigMap, LimitRange, Namespace, Pod, ResourceQuota, Service};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use serde_json::{Value, json};

async fn namespace(client: &Client, name: &str) {
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
}

async fn create<K>(api: &Api<K>, body: Value) -> Result<K, kube::Error>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    api.create(
        &PostParams::default(),
        &serde_json::from_value(body).unwrap(),
    )
    .await
}

/// The refusal's status message, or a panic if the create went through.
fn refusal<T: std::fmt::Debug>(r: Result<T, kube::Error>) -> (u16, String) {
    match r {
        Err(kube::Error::Api(s)) => (s.code, s.message),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// Wait for the controller to publish the quota's usage; returns `status.used`.
async fn used_when(quotas: &Api<ResourceQuota>, name: &str, want: Value) -> Value {
    eventually(20, &format!("quota {name} used {want}"), || async {
        let q = quotas.get(name).await.map_err(|e| e.to_string())?;
        let status = serde_json::to_value(q.status).unwrap();
        let used = status["used"].clone();
        let matches = want.as_object().unwrap().iter().all(|(k, v)| used[k] == *v);
        if matches {
            Ok(used)
        } else {
            Err(format!("{status}"))
        }
    })
    .await
}

fn pod(name: &str, resources: Value) -> Value {
    json!({"metadata": {"name": name},
           "spec": {"containers": [{"name": "c", "image": "nginx", "resources": resources}]}})
}

#[tokio::test]
async fn a_compute_quota_refuses_pods_without_limits_until_a_limit_range_supplies_them() {
    let c = Cluster::start().await;
    let ns = "tenant";
    namespace(&c.client, ns).await;
    let quotas: Api<ResourceQuota> = Api::namespaced(c.client.clone(), ns);
    create(
        &quotas,
        json!({"metadata": {"name": "compute-quota"}, "spec": {"hard": {
        "pods": "2", "requests.cpu": "1", "requests.memory": "20Mi",
        "limits.cpu": "2", "limits.memory": "2Gi"}}}),
    )
    .await
    .unwrap();
    let q = used_when(
        &quotas,
        "compute-quota",
        json!({"pods": "0", "requests.memory": "0"}),
    )
    .await;
    assert_eq!(q.as_object().unwrap().len(), 5, "{q}");
    let hard =
        serde_json::to_value(quotas.get("compute-quota").await.unwrap().status).unwrap()["hard"]
            .clone();
    assert_eq!(hard["requests.memory"], "20Mi");

    // `kubectl run nginx` as a Deployment: created, but no pods.
    let deployments: Api<Deployment> = Api::namespaced(c.client.clone(), ns);
    create(
        &deployments,
        json!({"metadata": {"name": "nginx"}, "spec": {"replicas": 1,
        "selector": {"matchLabels": {"run": "nginx"}},
        "template": {"metadata": {"labels": {"run": "nginx"}},
                     "spec": {"containers": [{"name": "nginx", "image": "nginx"}]}}}}),
    )
    .await
    .unwrap();
    let sets: Api<ReplicaSet> = Api::namespaced(c.client.clone(), ns);
    let rs = eventually(20, "the ReplicaSet's ReplicaFailure", || async {
        let list = sets.list(&ListParams::default()).await.map_err(|e| e.to_string())?;
        let rs = list.items.into_iter().next().ok_or("no ReplicaSet")?;
        let conds = rs.status.as_ref().and_then(|s| s.conditions.clone()).unwrap_or_default();
        let failure = conds.iter().find(|c| c.type_ == "ReplicaFailure").ok_or("no condition")?;
        assert_eq!(failure.reason.as_deref(), Some("FailedCreate"));
        assert!(
            failure.message.as_deref().unwrap_or_default().contains("failed quota: compute-quota: must specify limits.cpu for: nginx; limits.memory for: nginx; requests.cpu for: nginx; requests.memory for: nginx"),
            "{failure:?}"
        );
        Ok(rs)
    })
    .await;
    let rs_name = rs.name_any();
    let failed = events(&c.client, ns, &rs_name, "FailedCreate").await;
    assert!(
        failed.iter().any(|m| m.starts_with(&format!("Error creating: pods \"{rs_name}-"))
            && m.ends_with("is forbidden: failed quota: compute-quota: must specify limits.cpu for: nginx; limits.memory for: nginx; requests.cpu for: nginx; requests.memory for: nginx")),
        "{failed:?}"
    );
    eventually(20, "the Deployment's ReplicaFailure", || async {
        let d = deployments.get("nginx").await.map_err(|e| e.to_string())?;
        let conds = d.status.and_then(|s| s.conditions).unwrap_or_default();
        conds
            .iter()
            .find(|c| {
                c.type_ == "ReplicaFailure"
                    && c.status == "True"
                    && c.reason.as_deref() == Some("FailedCreate")
            })
            .map(|_| ())
            .ok_or(format!("{conds:?}"))
    })
    .await;
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), ns);
    assert!(
        pods.list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );

    // The book's LimitRange defaults let the ReplicaSet's next try in.
    let ranges: Api<LimitRange> = Api::namespaced(c.client.clone(), ns);
    create(&ranges, json!({"metadata": {"name": "limits"}, "spec": {"limits": [{"type": "Container",
        "default": {"cpu": "200m", "memory": "6Mi"}, "defaultRequest": {"cpu": "100m", "memory": "5Mi"}}]}}))
    .await
    .unwrap();
    let created = eventually(30, "a pod with defaults", || async {
        let list = pods
            .list(&ListParams::default())
            .await
            .map_err(|e| e.to_string())?;
        list.items.into_iter().next().ok_or("no pod".to_string())
    })
    .await;
    assert_eq!(
        created
            .annotations()
            .get("kubernetes.io/limit-ranger")
            .map(String::as_str),
        Some(
            "LimitRanger plugin set: cpu, memory request for container nginx; cpu, memory limit for container nginx"
        )
    );
    let resources = serde_json::to_value(&created.spec.unwrap().containers[0].resources).unwrap();
    assert_eq!(
        resources,
        json!({"requests": {"cpu": "100m", "memory": "5Mi"}, "limits": {"cpu": "200m", "memory": "6Mi"}})
    );
    used_when(
        &quotas,
        "compute-quota",
        json!({"pods": "1", "requests.cpu": "100m",
        "requests.memory": "5Mi", "limits.cpu": "200m", "limits.memory": "6Mi"}),
    )
    .await;
    eventually(20, "ReplicaFailure cleared", || async {
        let d = deployments.get("nginx").await.map_err(|e| e.to_string())?;
        let conds = d.status.and_then(|s| s.conditions).unwrap_or_default();
        if conds.iter().any(|c| c.type_ == "ReplicaFailure") {
            Err(format!("{conds:?}"))
        } else {
            Ok(())
        }
    })
    .await;

    // Past the pod count: the third pod is refused with the numbers.
    deployments
        .patch(
            "nginx",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await
        .unwrap();
    eventually(20, "exceeded quota event", || async {
        let failed = events(&c.client, ns, &rs_name, "FailedCreate").await;
        failed
            .iter()
            .find(|m| m.ends_with("is forbidden: exceeded quota: compute-quota, requested: pods=1, used: pods=2, limited: pods=2"))
            .map(|_| ())
            .ok_or(format!("{failed:?}"))
    })
    .await;
    assert_eq!(
        pods.list(&ListParams::default()).await.unwrap().items.len(),
        2
    );

    // Scaling down frees the quota promptly.
    deployments
        .patch(
            "nginx",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 1}})),
        )
        .await
        .unwrap();
    used_when(
        &quotas,
        "compute-quota",
        json!({"pods": "1", "requests.cpu": "100m"}),
    )
    .await;
}

#[tokio::test]
async fn object_counts_are_charged_at_once_and_freed_on_delete() {
    let c = Cluster::start().await;
    let ns = "counts";
    namespace(&c.client, ns).await;
    let maps: Api<ConfigMap> = Api::namespaced(c.client.clone(), ns);
    // As in a real cluster, the namespace has its root CA before anyone sets a quota (a
    // quota's first count and an object created meanwhile can miss each other until the
    // periodic recount, as upstream's can).
    eventually(20, "kube-root-ca.crt", || async {
        maps.get("kube-root-ca.crt")
            .await
            .map_err(|e| e.to_string())
    })
    .await;
    let quotas: Api<ResourceQuota> = Api::namespaced(c.client.clone(), ns);
    create(
        &quotas,
        json!({"metadata": {"name": "object-counts"},
        "spec": {"hard": {"configmaps": "3", "pods": "4", "count/deployments.apps": "1", "services.nodeports": "1"}}}),
    )
    .await
    .unwrap();
    // The namespace's kube-root-ca.crt counts too.
    used_when(
        &quotas,
        "object-counts",
        json!({"configmaps": "1", "pods": "0", "count/deployments.apps": "0"}),
    )
    .await;

    for name in ["a", "b"] {
        create(&maps, json!({"metadata": {"name": name}}))
            .await
            .unwrap();
    }
    let (code, message) = refusal(create(&maps, json!({"metadata": {"name": "c"}})).await);
    assert_eq!(code, 403);
    assert_eq!(
        message,
        "configmaps \"c\" is forbidden: exceeded quota: object-counts, requested: configmaps=1, used: configmaps=3, limited: configmaps=3"
    );
    maps.delete("a", &DeleteParams::default()).await.unwrap();
    used_when(&quotas, "object-counts", json!({"configmaps": "2"})).await;
    create(&maps, json!({"metadata": {"name": "c"}}))
        .await
        .unwrap();

    // Concurrent creates never overshoot: four of ten pods get in.
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), ns);
    let results =
        futures::future::join_all((0..10).map(|i| create(&pods, pod(&format!("p{i}"), json!({})))))
            .await;
    let admitted = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(admitted, 4, "{results:?}");
    for r in results.into_iter().filter(|r| r.is_err()) {
        let (code, message) = refusal(r);
        assert_eq!(code, 403);
        assert!(message.ends_with("is forbidden: exceeded quota: object-counts, requested: pods=1, used: pods=4, limited: pods=4"), "{message}");
    }
    // A finished pod no longer counts against `pods`.
    let first = pods.list(&ListParams::default()).await.unwrap().items[0].name_any();
    common::finish(&pods, &first, "Succeeded").await;
    used_when(&quotas, "object-counts", json!({"pods": "3"})).await;

    let deployments: Api<Deployment> = Api::namespaced(c.client.clone(), ns);
    let d = |name: &str| {
        json!({"metadata": {"name": name}, "spec": {"replicas": 0,
        "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})
    };
    create(&deployments, d("one")).await.unwrap();
    let (_, message) = refusal(create(&deployments, d("two")).await);
    assert_eq!(
        message,
        "deployments.apps \"two\" is forbidden: exceeded quota: object-counts, requested: count/deployments.apps=1, used: count/deployments.apps=1, limited: count/deployments.apps=1"
    );
    deployments
        .delete("one", &DeleteParams::default())
        .await
        .unwrap();
    used_when(
        &quotas,
        "object-counts",
        json!({"count/deployments.apps": "0"}),
    )
    .await;

    // Changing a service's type is charged what it adds: two node ports exceed one.
    let services: Api<Service> = Api::namespaced(c.client.clone(), ns);
    create(
        &services,
        json!({"metadata": {"name": "web"}, "spec": {
        "ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443}]}}),
    )
    .await
    .unwrap();
    let (code, message) = refusal(
        services
            .patch(
                "web",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"type": "NodePort"}})),
            )
            .await,
    );
    assert_eq!(code, 403);
    assert_eq!(
        message,
        "services \"web\" is forbidden: exceeded quota: object-counts, requested: services.nodeports=2, used: services.nodeports=0, limited: services.nodeports=1"
    );
}

#[tokio::test]
async fn limit_ranges_bound_containers_pods_and_claims() {
    let c = Cluster::start().await;
    let ns = "bounded";
    namespace(&c.client, ns).await;
    let ranges: Api<LimitRange> = Api::namespaced(c.client.clone(), ns);
    create(
        &ranges,
        json!({"metadata": {"name": "bounds"}, "spec": {"limits": [
        {"type": "Container", "min": {"cpu": "100m"}, "max": {"cpu": "1", "memory": "1Gi"},
         "maxLimitRequestRatio": {"memory": "2"}},
        {"type": "Pod", "max": {"cpu": "1500m"}},
        {"type": "PersistentVolumeClaim", "min": {"storage": "1Gi"}, "max": {"storage": "5Gi"}}]}}),
    )
    .await
    .unwrap();
    // The API server's admission reads ranges from its watch cache: wait until it sees this one.
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), ns);
    let probe: Pod =
        serde_json::from_value(pod("probe", json!({"requests": {"cpu": "1m"}}))).unwrap();
    let dry = PostParams {
        dry_run: true,
        ..Default::default()
    };
    eventually(20, "the range in effect", || async {
        match pods.create(&dry, &probe).await {
            Err(kube::Error::Api(s)) if s.code == 403 => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let (code, message) = refusal(
        create(&pods, pod("small", json!({"requests": {"cpu": "50m", "memory": "100Mi"}, "limits": {"cpu": "500m", "memory": "150Mi"}}))).await,
    );
    assert_eq!(code, 403);
    assert_eq!(
        message,
        "pods \"small\" is forbidden: minimum cpu usage per Container is 100m, but request is 50m"
    );

    let (_, message) = refusal(
        create(&pods, pod("greedy", json!({"requests": {"cpu": "200m", "memory": "100Mi"}, "limits": {"cpu": "2", "memory": "300Mi"}}))).await,
    );
    assert_eq!(
        message,
        "pods \"greedy\" is forbidden: [maximum cpu usage per Container is 1, but limit is 2, memory max limit to request ratio per Container is 2, but provided ratio is 3.000000, maximum cpu usage per Pod is 1500m, but limit is 2]"
    );
    // The Container max is defaulted into limits by the LimitRange itself.
    let fine = create(
        &pods,
        pod(
            "fine",
            json!({"requests": {"cpu": "200m", "memory": "600Mi"}}),
        ),
    )
    .await
    .unwrap();
    let resources = serde_json::to_value(&fine.spec.unwrap().containers[0].resources).unwrap();
    assert_eq!(resources["limits"], json!({"cpu": "1", "memory": "1Gi"}));

    let claims: Api<k8s_openapi::api::core::v1::PersistentVolumeClaim> =
        Api::namespaced(c.client.clone(), ns);
    let claim = |name: &str, size: &str| {
        json!({"metadata": {"name": name}, "spec": {
        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}})
    };
    let (_, message) = refusal(create(&claims, claim("tiny", "500Mi")).await);
    assert_eq!(
        message,
        "persistentvolumeclaims \"tiny\" is forbidden: minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 500Mi"
    );
    let (_, message) = refusal(create(&claims, claim("huge", "10Gi")).await);
    assert_eq!(
        message,
        "persistentvolumeclaims \"huge\" is forbidden: maximum storage usage per PersistentVolumeClaim is 5Gi, but request is 10Gi"
    );
    create(&claims, claim("ok", "2Gi")).await.unwrap();
}
