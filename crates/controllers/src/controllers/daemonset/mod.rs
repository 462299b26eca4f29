//! The DaemonSet controller: one pod per eligible node (nodeSelector, required node affinity,
//! taints the pod tolerates, counting the DaemonSet's automatic tolerations), pinned to its node
//! through a `metadata.name` node-affinity term so the scheduler places it; RollingUpdate
//! (maxUnavailable, or maxSurge: see [`update`]) or OnDelete; ControllerRevisions; status.

pub mod update;

use super::revisions::{self, REVISION_LABEL};
use crate::events::ComponentRecorder;
use crate::manager::Context;
use crate::ownership::{controller_of, controller_ref, selector_matches};
use crate::pods;
use crate::runtime::{Change, Key, WorkQueue, informer::forward};
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::{Node, NodeSelectorRequirement, Pod, Toleration};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

pub const COMPONENT: &str = "daemonset-controller";

pub fn start(ctx: &Arc<Context>) {
    let queue = WorkQueue::new();
    forward(&ctx.informers.daemon_sets, queue.clone(), |c| {
        vec![Key::of(c.object().as_ref())]
    });
    forward(&ctx.informers.pods, queue.clone(), |c| {
        let p = c.object();
        controller_of(&p.metadata)
            .filter(|r| r.kind == "DaemonSet")
            .map(|r| vec![Key::new(p.namespace().unwrap_or_default(), r.name.clone())])
            .unwrap_or_default()
    });
    // Any node change may change where daemons belong.
    let sets = ctx.informers.daemon_sets.clone();
    forward(
        &ctx.informers.nodes,
        queue.clone(),
        move |_c: &Change<Node>| sets.list().iter().map(|d| Key::of(d.as_ref())).collect(),
    );
    let c = Arc::new(Controller {
        ctx: ctx.clone(),
        events: ctx.recorder.for_component(COMPONENT),
    });
    queue.run(COMPONENT, 2, move |key| {
        let c = c.clone();
        async move { c.sync(&key).await }
    });
}

struct Controller {
    ctx: Arc<Context>,
    events: ComponentRecorder,
}

/// Tolerations every daemon pod gets, as upstream adds them.
fn default_tolerations(host_network: bool) -> Vec<Toleration> {
    let t = |key: &str, effect: &str| Toleration {
        key: Some(key.into()),
        operator: Some("Exists".into()),
        effect: Some(effect.into()),
        ..Default::default()
    };
    let mut v = vec![
        t("node.kubernetes.io/not-ready", "NoExecute"),
        t("node.kubernetes.io/unreachable", "NoExecute"),
        t("node.kubernetes.io/disk-pressure", "NoSchedule"),
        t("node.kubernetes.io/memory-pressure", "NoSchedule"),
        t("node.kubernetes.io/pid-pressure", "NoSchedule"),
        t("node.kubernetes.io/unschedulable", "NoSchedule"),
    ];
    if host_network {
        v.push(t("node.kubernetes.io/network-unavailable", "NoSchedule"));
    }
    v
}

fn tolerates(tols: &[Toleration], key: &str, value: Option<&str>, effect: &str) -> bool {
    tols.iter().any(|t| {
        let effect_ok = t
            .effect
            .as_deref()
            .is_none_or(|e| e.is_empty() || e == effect);
        let key_ok = t.key.as_deref().is_none_or(|k| k.is_empty() || k == key);
        let value_ok = match t.operator.as_deref() {
            Some("Exists") => true,
            _ => t.value.as_deref().unwrap_or("") == value.unwrap_or(""),
        };
        effect_ok && key_ok && value_ok
    })
}

fn requirement_matches(r: &NodeSelectorRequirement, labels: &BTreeMap<String, String>) -> bool {
    let have = labels.get(&r.key);
    let values = r.values.as_deref().unwrap_or_default();
    match r.operator.as_str() {
        "In" => have.is_some_and(|h| values.contains(h)),
        "NotIn" => have.is_none_or(|h| !values.contains(h)),
        "Exists" => have.is_some(),
        "DoesNotExist" => have.is_none(),
        "Gt" | "Lt" => {
            let (Some(h), Some(v)) = (
                have.and_then(|h| h.parse::<i64>().ok()),
                values.first().and_then(|v| v.parse::<i64>().ok()),
            ) else {
                return false;
            };
            if r.operator == "Gt" { h > v } else { h < v }
        }
        _ => false,
    }
}

/// Whether the daemon's pod belongs on `node`.
fn eligible(ds: &DaemonSet, node: &Node) -> bool {
    let spec = ds.spec.as_ref().and_then(|s| s.template.spec.as_ref());
    let labels = node.labels();
    if let Some(sel) = spec.and_then(|s| s.node_selector.as_ref())
        && !sel.iter().all(|(k, v)| labels.get(k) == Some(v))
    {
        return false;
    }
    let required = spec
        .and_then(|s| s.affinity.as_ref())
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|n| {
            n.required_during_scheduling_ignored_during_execution
                .as_ref()
        });
    if let Some(req) = required {
        let any = req.node_selector_terms.iter().any(|term| {
            term.match_expressions
                .iter()
                .flatten()
                .all(|r| requirement_matches(r, labels))
                && term.match_fields.iter().flatten().all(|r| {
                    let fields = BTreeMap::from([("metadata.name".to_string(), node.name_any())]);
                    requirement_matches(r, &fields)
                })
        });
        if !any {
            return false;
        }
    }
    let host_network = spec.and_then(|s| s.host_network).unwrap_or(false);
    let mut tols = spec.and_then(|s| s.tolerations.clone()).unwrap_or_default();
    tols.extend(default_tolerations(host_network));
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .into_iter()
        .flatten()
        .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
        .all(|t| tolerates(&tols, &t.key, t.value.as_deref(), &t.effect))
}

/// The node a daemon pod is for: where it runs, or the node its affinity pins it to.
fn node_of(p: &Pod) -> Option<String> {
    let spec = p.spec.as_ref()?;
    if let Some(n) = &spec.node_name {
        return Some(n.clone());
    }
    spec.affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?
        .node_selector_terms
        .iter()
        .flat_map(|t| t.match_fields.iter().flatten())
        .find(|r| r.key == "metadata.name" && r.operator == "In")
        .and_then(|r| r.values.as_ref()?.first().cloned())
}

impl Controller {
    async fn sync(&self, key: &Key) -> anyhow::Result<Option<Duration>> {
        let Some(ds) = self
            .ctx
            .informers
            .daemon_sets
            .get(Some(&key.namespace), &key.name)
        else {
            return Ok(None);
        };
        let ds = (*ds).clone();
        if ds.metadata.deletion_timestamp.is_some() {
            return Ok(None);
        }
        let spec = ds.spec.clone().unwrap_or_default();
        let ns = &key.namespace;
        let pod_api: Api<Pod> = Api::namespaced(self.ctx.client.clone(), ns);
        let candidates = self.ctx.informers.pods.list_namespaced(ns);
        let owned = crate::ownership::claim(
            &ds,
            |l| selector_matches(&spec.selector, l),
            candidates,
            &pod_api,
        )
        .await?;
        let rev_api: Api<ControllerRevision> = Api::namespaced(self.ctx.client.clone(), ns);
        revisions::ensure(
            &rev_api,
            &ds,
            &spec.template,
            spec.selector.match_labels.clone().unwrap_or_default(),
        )
        .await?;
        let hash = revisions::hash(&spec.template);
        let min_ready = spec.min_ready_seconds.unwrap_or(0);
        let now = jiff::Timestamp::now();

        let nodes = self.ctx.informers.nodes.list();
        let wanted: Vec<&Arc<Node>> = nodes.iter().filter(|n| eligible(&ds, n)).collect();
        let mut by_node: HashMap<String, Vec<Arc<Pod>>> = HashMap::new();
        for p in owned
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
        {
            if let Some(n) = node_of(p) {
                by_node.entry(n).or_default().push(p.clone());
            }
        }
        let strategy = spec.update_strategy.clone().unwrap_or_default();
        let rolling = strategy.type_.as_deref() != Some("OnDelete");
        let max_surge = if rolling {
            update::scaled(
                strategy
                    .rolling_update
                    .as_ref()
                    .and_then(|r| r.max_surge.as_ref()),
                wanted.len(),
                0,
            )
        } else {
            0
        };
        let mut misscheduled = 0;
        for (node, ps) in by_node.iter_mut() {
            let keep = wanted.iter().any(|n| &n.name_any() == node);
            ps.sort_by_key(|p| p.metadata.creation_timestamp.as_ref().map(|t| t.0));
            // One daemon per node; while surging, one old and one new.
            let mut kept: Vec<Arc<Pod>> = Vec::new();
            for p in ps.iter() {
                let failed = pods::phase(p) == "Failed";
                let is_new = p.labels().get(REVISION_LABEL) == Some(&hash);
                let room = kept.is_empty()
                    || (max_surge > 0
                        && kept.len() == 1
                        && (kept[0].labels().get(REVISION_LABEL) == Some(&hash)) != is_new);
                if keep && !failed && room {
                    kept.push(p.clone());
                    continue;
                }
                if !keep {
                    misscheduled += 1;
                }
                self.delete_pod(&ds, p, &pod_api).await?;
            }
            *ps = kept;
        }
        for n in &wanted {
            if by_node.get(&n.name_any()).is_none_or(|v| v.is_empty()) {
                self.create_pod(&ds, &n.name_any(), &hash, &pod_api).await?;
            }
        }
        let available = |p: &Pod| pods::availability(p, min_ready, now).0;
        if rolling {
            let nodes: Vec<update::NodePods> = wanted
                .iter()
                .filter_map(|n| {
                    let pods = by_node.get(&n.name_any())?.clone();
                    (!pods.is_empty()).then(|| update::NodePods {
                        node: n.name_any(),
                        pods,
                    })
                })
                .collect();
            let max_unavailable = update::scaled(
                strategy
                    .rolling_update
                    .as_ref()
                    .and_then(|r| r.max_unavailable.as_ref()),
                wanted.len(),
                1,
            );
            let plan = update::plan(&nodes, &hash, max_surge, max_unavailable, available);
            for name in &plan.delete {
                if let Some(p) = nodes
                    .iter()
                    .flat_map(|n| &n.pods)
                    .find(|p| &p.name_any() == name)
                {
                    self.delete_pod(&ds, p, &pod_api).await?;
                }
            }
            for node in &plan.create_on {
                self.create_pod(&ds, node, &hash, &pod_api).await?;
            }
        }
        // Each node's daemon for the status: its updated pod if it has one.
        let daemons: Vec<&Arc<Pod>> = wanted
            .iter()
            .filter_map(|n| {
                let ps = by_node.get(&n.name_any())?;
                ps.iter()
                    .find(|p| p.labels().get(REVISION_LABEL) == Some(&hash))
                    .or_else(|| ps.first())
            })
            .collect();
        let ready = daemons.iter().filter(|p| pods::is_ready(p)).count();
        let available = daemons.iter().filter(|p| available(p)).count();
        let updated = daemons
            .iter()
            .filter(|p| p.labels().get(REVISION_LABEL) == Some(&hash))
            .count();
        let status = json!({
            "desiredNumberScheduled": wanted.len(),
            "currentNumberScheduled": daemons.len(),
            "numberMisscheduled": misscheduled,
            "numberReady": ready,
            "numberAvailable": available,
            "numberUnavailable": wanted.len().saturating_sub(available),
            "updatedNumberScheduled": updated,
            "observedGeneration": ds.metadata.generation,
        });
        let current = serde_json::to_value(&ds.status)?;
        let differs = status.as_object().into_iter().flatten().any(|(k, v)| {
            let have = current.get(k).cloned().unwrap_or(json!(0));
            &have != v && !(have.is_null() && v == &json!(0))
        });
        if differs || ds.status.is_none() {
            let api: Api<DaemonSet> = Api::namespaced(self.ctx.client.clone(), ns);
            match api
                .patch_status(
                    &ds.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(json!({"status": status})),
                )
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(None)
    }

    async fn create_pod(
        &self,
        ds: &DaemonSet,
        node: &str,
        hash: &str,
        api: &Api<Pod>,
    ) -> anyhow::Result<()> {
        let spec = ds.spec.clone().unwrap_or_default();
        let mut pod = pods::from_template(&spec.template, controller_ref(ds), &ds.name_any());
        let labels = pod.metadata.labels.get_or_insert_with(Default::default);
        labels.insert(REVISION_LABEL.into(), hash.to_string());
        labels.insert(
            "pod-template-generation".into(),
            ds.metadata.generation.unwrap_or(1).to_string(),
        );
        if let Some(ps) = pod.spec.as_mut() {
            let host_network = ps.host_network.unwrap_or(false);
            let tols = ps.tolerations.get_or_insert_with(Vec::new);
            for t in default_tolerations(host_network) {
                if !tols.iter().any(|x| x.key == t.key && x.effect == t.effect) {
                    tols.push(t);
                }
            }
            let affinity = ps.affinity.get_or_insert_with(Default::default);
            affinity.node_affinity = Some(serde_json::from_value(json!({
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                    {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}]}
            }))?);
        }
        match api.create(&PostParams::default(), &pod).await {
            Ok(p) => {
                self.events.normal(
                    ds,
                    "SuccessfulCreate",
                    format!("Created pod: {}", p.name_any()),
                );
                Ok(())
            }
            Err(e) => {
                self.events.warning(
                    ds,
                    "FailedCreate",
                    format!("Error creating: {}", crate::error_message(&e)),
                );
                Err(e.into())
            }
        }
    }

    async fn delete_pod(&self, ds: &DaemonSet, p: &Pod, api: &Api<Pod>) -> anyhow::Result<()> {
        match api.delete(&p.name_any(), &DeleteParams::default()).await {
            Ok(_) => {
                self.events.normal(
                    ds,
                    "SuccessfulDelete",
                    format!("Deleted pod: {}", p.name_any()),
                );
                Ok(())
            }
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
