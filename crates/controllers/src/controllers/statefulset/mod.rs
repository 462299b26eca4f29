//! The StatefulSet controller: pods with stable names `<set>-<ordinal>` (hostname, subdomain,
//! `statefulset.kubernetes.io/pod-name` and `apps.kubernetes.io/pod-index` labels), claims from
//! volumeClaimTemplates that outlive the pods, OrderedReady (one at a time, each after its
//! predecessor is Ready; scale down from the highest ordinal) or Parallel management,
//! RollingUpdate with partition (highest ordinal first) or OnDelete, ControllerRevisions and
//! status. [`claims`] makes the claims and keeps their owners as the retention policy says.

pub mod claims;

use super::revisions::{self, REVISION_LABEL};
use crate::events::ComponentRecorder;
use crate::manager::Context;
use crate::ownership::{controller_of, controller_ref, selector_matches};
use crate::pods;
use crate::runtime::{Key, WorkQueue, informer::forward};
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

pub const COMPONENT: &str = "statefulset-controller";
pub const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
pub const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";

pub fn start(ctx: &Arc<Context>) {
    let queue = WorkQueue::new();
    forward(&ctx.informers.stateful_sets, queue.clone(), |c| {
        vec![Key::of(c.object().as_ref())]
    });
    forward(&ctx.informers.pods, queue.clone(), |c| {
        let p = c.object();
        controller_of(&p.metadata)
            .filter(|r| r.kind == "StatefulSet")
            .map(|r| vec![Key::new(p.namespace().unwrap_or_default(), r.name.clone())])
            .unwrap_or_default()
    });
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

fn ordinal(set: &str, pod: &str) -> Option<i32> {
    pod.strip_prefix(set)?.strip_prefix('-')?.parse().ok()
}

fn revision_of(p: &Pod) -> Option<&str> {
    p.labels().get(REVISION_LABEL).map(String::as_str)
}

impl Controller {
    async fn sync(&self, key: &Key) -> anyhow::Result<Option<Duration>> {
        let Some(set) = self
            .ctx
            .informers
            .stateful_sets
            .get(Some(&key.namespace), &key.name)
        else {
            return Ok(None);
        };
        let set = (*set).clone();
        if set.metadata.deletion_timestamp.is_some() {
            return Ok(None);
        }
        let spec = set.spec.clone().unwrap_or_default();
        let name = set.name_any();
        let ns = &key.namespace;
        let pod_api: Api<Pod> = Api::namespaced(self.ctx.client.clone(), ns);
        let candidates = self.ctx.informers.pods.list_namespaced(ns);
        let owned = crate::ownership::claim(
            &set,
            |l| selector_matches(&spec.selector, l),
            candidates,
            &pod_api,
        )
        .await?;
        let rev_api: Api<ControllerRevision> = Api::namespaced(self.ctx.client.clone(), ns);
        let selector_labels = spec.selector.match_labels.clone().unwrap_or_default();
        let update_revision =
            revisions::ensure(&rev_api, &set, &spec.template, selector_labels).await?;
        let update_hash = revisions::hash(&spec.template);
        let replicas = spec.replicas.unwrap_or(1);
        let parallel = spec.pod_management_policy.as_deref() == Some("Parallel");
        let min_ready = spec.min_ready_seconds.unwrap_or(0);
        let now = jiff::Timestamp::now();

        let mut by_ordinal: Vec<(i32, Arc<Pod>)> = owned
            .iter()
            .filter_map(|p| ordinal(&name, &p.name_any()).map(|o| (o, p.clone())))
            .collect();
        by_ordinal.sort_by_key(|(o, _)| *o);
        let mut requeue = None;

        // Create missing ordinals below `replicas` (in order unless Parallel).
        for o in 0..replicas {
            let existing = by_ordinal
                .iter()
                .find(|(i, _)| *i == o)
                .map(|(_, p)| p.clone());
            match existing {
                None => {
                    self.create_pod(&set, &spec.template, o, &update_hash, &pod_api)
                        .await?;
                    if !parallel {
                        break;
                    }
                }
                Some(p) => {
                    if matches!(pods::phase(&p), "Failed" | "Succeeded")
                        && p.metadata.deletion_timestamp.is_none()
                    {
                        self.delete_pod(&set, &p, &pod_api).await?;
                        if !parallel {
                            break;
                        }
                        continue;
                    }
                    let (available, wait) = pods::availability(&p, min_ready, now);
                    if let Some(w) = wait {
                        requeue = Some(w);
                    }
                    if !parallel && (p.metadata.deletion_timestamp.is_some() || !available) {
                        break;
                    }
                }
            }
        }
        // Claim owners follow the retention policy; condemned pods take over their claims
        // before they are deleted, so the claims go with them when whenScaled is Delete.
        for (o, p) in &by_ordinal {
            if p.metadata.deletion_timestamp.is_none() {
                claims::update_owners(&self.ctx, &set, p, *o >= replicas).await?;
            }
        }
        // Scale down from the highest ordinal, one at a time unless Parallel.
        let extra: Vec<&(i32, Arc<Pod>)> = by_ordinal
            .iter()
            .rev()
            .filter(|(o, _)| *o >= replicas)
            .collect();
        for (_, p) in extra {
            if p.metadata.deletion_timestamp.is_none() {
                self.delete_pod(&set, p, &pod_api).await?;
            }
            if !parallel {
                break;
            }
        }
        // Rolling update: replace the highest-ordinal out-of-date pod at or above the partition
        // once every pod is Ready.
        let strategy = spec.update_strategy.clone().unwrap_or_default();
        if strategy.type_.as_deref() != Some("OnDelete") {
            let partition = strategy
                .rolling_update
                .as_ref()
                .and_then(|r| r.partition)
                .unwrap_or(0);
            let live: Vec<&(i32, Arc<Pod>)> =
                by_ordinal.iter().filter(|(o, _)| *o < replicas).collect();
            let all_ready = live.len() as i32 == replicas
                && live
                    .iter()
                    .all(|(_, p)| pods::is_ready(p) && p.metadata.deletion_timestamp.is_none());
            if all_ready
                && let Some((_, p)) = live
                    .iter()
                    .rev()
                    .find(|(o, p)| *o >= partition && revision_of(p) != Some(update_hash.as_str()))
            {
                self.delete_pod(&set, p, &pod_api).await?;
            }
        }

        // PVCs of pods that exist (claims are created with the pod).
        let live: Vec<&Arc<Pod>> = owned.iter().filter(|p| pods::is_active(p)).collect();
        let ready = live.iter().filter(|p| pods::is_ready(p)).count() as i32;
        let available = live
            .iter()
            .filter(|p| pods::availability(p, min_ready, now).0)
            .count() as i32;
        let updated = live
            .iter()
            .filter(|p| revision_of(p) == Some(update_hash.as_str()))
            .count() as i32;
        let current_revision = set
            .status
            .as_ref()
            .and_then(|s| s.current_revision.clone())
            .filter(|_| updated < live.len() as i32)
            .unwrap_or_else(|| update_revision.clone());
        let current = if current_revision == update_revision {
            updated
        } else {
            let current_hash = current_revision.rsplit('-').next().unwrap_or("");
            live.iter()
                .filter(|p| revision_of(p) == Some(current_hash))
                .count() as i32
        };
        let status = json!({
            "observedGeneration": set.metadata.generation,
            "replicas": live.len(),
            "readyReplicas": ready,
            "availableReplicas": available,
            "currentReplicas": current,
            "updatedReplicas": updated,
            "currentRevision": current_revision,
            "updateRevision": update_revision,
            "collisionCount": 0,
        });
        let current_json = serde_json::to_value(&set.status)?;
        let field = |v: &serde_json::Value, k: &str| match v.get(k) {
            None | Some(serde_json::Value::Null) => json!(0),
            Some(x) => x.clone(),
        };
        let unchanged = [
            "observedGeneration",
            "replicas",
            "readyReplicas",
            "availableReplicas",
            "currentReplicas",
            "updatedReplicas",
            "currentRevision",
            "updateRevision",
        ]
        .iter()
        .all(|k| field(&current_json, k) == field(&status, k));
        if !unchanged {
            let api: Api<StatefulSet> = Api::namespaced(self.ctx.client.clone(), ns);
            match api
                .patch_status(
                    &name,
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
        Ok(requeue)
    }

    async fn create_pod(
        &self,
        set: &StatefulSet,
        template: &PodTemplateSpec,
        o: i32,
        hash: &str,
        api: &Api<Pod>,
    ) -> anyhow::Result<()> {
        let name = format!("{}-{o}", set.name_any());
        let spec = set.spec.clone().unwrap_or_default();
        let mut pod = pods::from_template(template, controller_ref(set), &set.name_any());
        pod.metadata.generate_name = None;
        pod.metadata.name = Some(name.clone());
        let labels = pod.metadata.labels.get_or_insert_with(Default::default);
        labels.insert(POD_NAME_LABEL.into(), name.clone());
        labels.insert(POD_INDEX_LABEL.into(), o.to_string());
        labels.insert(REVISION_LABEL.into(), hash.to_string());
        if let Some(ps) = pod.spec.as_mut() {
            ps.hostname = Some(name.clone());
            if !spec.service_name.clone().unwrap_or_default().is_empty() {
                ps.subdomain = spec.service_name.clone();
            }
        }
        // Claims from the templates, created first and kept when the pod goes.
        let ns = set.namespace().unwrap_or_default();
        for template in spec.volume_claim_templates.iter().flatten() {
            let claim = claims::new_claim(template, set, &name);
            let claim_name = claim.name_any();
            match claims::create_if_missing(&self.ctx, &ns, &claim).await {
                Ok(true) => self.events.normal(
                    set,
                    "SuccessfulCreate",
                    format!(
                        "create Claim {claim_name} Pod {name} in StatefulSet {} success",
                        set.name_any()
                    ),
                ),
                Ok(false) => {}
                Err(e) => {
                    self.events.warning(set, "FailedCreate", format!("create Claim {claim_name} for Pod {name} in StatefulSet {} failed error: {}", set.name_any(), crate::error_message(&e)));
                    return Err(e.into());
                }
            }
            if let Some(ps) = pod.spec.as_mut() {
                let vols = ps.volumes.get_or_insert_with(Vec::new);
                vols.retain(|v| v.name != template.name_any());
                vols.push(serde_json::from_value(json!({"name": template.name_any(), "persistentVolumeClaim": {"claimName": claim_name}}))?);
            }
        }
        match api.create(&PostParams::default(), &pod).await {
            Ok(_) => {
                self.events.normal(
                    set,
                    "SuccessfulCreate",
                    format!(
                        "create Pod {name} in StatefulSet {} successful",
                        set.name_any()
                    ),
                );
                Ok(())
            }
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
            Err(e) => {
                self.events.warning(
                    set,
                    "FailedCreate",
                    format!(
                        "create Pod {name} in StatefulSet {} failed error: {}",
                        set.name_any(),
                        crate::error_message(&e)
                    ),
                );
                Err(e.into())
            }
        }
    }

    async fn delete_pod(&self, set: &StatefulSet, p: &Pod, api: &Api<Pod>) -> anyhow::Result<()> {
        match api.delete(&p.name_any(), &DeleteParams::default()).await {
            Ok(_) => {
                self.events.normal(
                    set,
                    "SuccessfulDelete",
                    format!(
                        "delete Pod {} in StatefulSet {} successful",
                        p.name_any(),
                        set.name_any()
                    ),
                );
                Ok(())
            }
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
