//! The StatefulSet controller: pods with stable names `<set>-<ordinal>` (ordinals from
//! `spec.ordinals.start`; hostname, subdomain, `statefulset.kubernetes.io/pod-name` and
//! `apps.kubernetes.io/pod-index` labels), claims from volumeClaimTemplates that outlive the
//! pods, OrderedReady (one at a time, each after its predecessor is Running and Ready for
//! minReadySeconds; scale down from the highest ordinal once all lower ones are) or Parallel
//! management, RollingUpdate with partition (highest ordinal first; pods below the partition
//! are recreated at the current revision) or OnDelete, ControllerRevisions (pods carry the
//! revision's name in `controller-revision-hash`; history pruned to revisionHistoryLimit) and
//! [`status`]. [`claims`] makes the claims and keeps their owners as the retention policy says.

pub mod claims;
pub mod status;

use super::revisions::{self, REVISION_LABEL};
use crate::events::ComponentRecorder;
use crate::manager::Context;
use crate::ownership::{controller_of, controller_ref, selector_matches};
use crate::pods;
use crate::runtime::{Key, WorkQueue, informer::forward};
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::{Api, ResourceExt};
use serde_json::json;
use std::collections::{BTreeMap, HashSet};
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

/// The revision a pod was made from (the ControllerRevision's name).
pub(crate) fn revision_of(p: &Pod) -> Option<&str> {
    p.labels().get(REVISION_LABEL).map(String::as_str)
}

/// Running, ready and not terminating (upstream's `isHealthy`).
fn healthy(p: &Pod) -> bool {
    status::running_and_ready(p) && p.metadata.deletion_timestamp.is_none()
}

/// The revisions a sync works with: the current one (what pods below the partition run) and
/// the update one (the set's template now).
struct Revisions {
    current: String,
    current_template: PodTemplateSpec,
    update: String,
}

impl Revisions {
    /// Upstream's `newVersionedStatefulSetPod`: with RollingUpdate, ordinals below the
    /// partition (or, without rollingUpdate settings, below the current replica count) are
    /// made from the current revision; all others from the update revision.
    fn for_ordinal<'a>(
        &'a self,
        spec: &'a StatefulSetSpec,
        current_replicas: i32,
        ordinal: i32,
        start: i32,
    ) -> (&'a PodTemplateSpec, &'a str) {
        let strategy = spec.update_strategy.as_ref();
        let below = match (
            strategy.and_then(|s| s.type_.as_deref()),
            strategy.and_then(|s| s.rolling_update.as_ref()),
        ) {
            (Some("OnDelete"), _) => false,
            (_, Some(r)) => ordinal < start + r.partition.unwrap_or(0),
            (_, None) => ordinal < start + current_replicas,
        };
        if below {
            (&self.current_template, &self.current)
        } else {
            (&spec.template, &self.update)
        }
    }
}

/// What to do after handling one pod: go on, or end this round's pod changes.
#[derive(PartialEq)]
enum Step {
    Next,
    Stop,
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
        let history = revisions::ensure(&rev_api, &set, &spec.template, None).await?;
        let update = history.update.name_any();
        let current = set
            .status
            .as_ref()
            .and_then(|s| s.current_revision.as_deref())
            .and_then(|c| history.find(c));
        let revs = Revisions {
            current: current
                .map(|r| r.name_any())
                .unwrap_or_else(|| update.clone()),
            current_template: current
                .and_then(revisions::template_of)
                .unwrap_or_else(|| spec.template.clone()),
            update: update.clone(),
        };
        let replicas = spec.replicas.unwrap_or(1);
        let start = spec.ordinals.as_ref().and_then(|o| o.start).unwrap_or(0);
        let monotonic = spec.pod_management_policy.as_deref() != Some("Parallel");
        let min_ready = spec.min_ready_seconds.unwrap_or(0);
        let now = jiff::Timestamp::now();

        let mut by_ordinal: BTreeMap<i32, Arc<Pod>> = BTreeMap::new();
        for p in &owned {
            if let Some(o) = ordinal(&name, &p.name_any()) {
                by_ordinal.insert(o, p.clone());
            }
        }
        let in_range = |o: i32| o >= start && o < start + replicas;
        let pods: Vec<&Pod> = by_ordinal.values().map(|p| p.as_ref()).collect();
        let mut counts = status::Counts::of(&pods, &revs.current, &revs.update, min_ready, now);
        // Claim owners follow the retention policy; condemned pods take over their claims
        // before they are deleted, so the claims go with them when whenScaled is Delete.
        for (o, p) in &by_ordinal {
            if p.metadata.deletion_timestamp.is_none() {
                claims::update_owners(&self.ctx, &set, p, !in_range(*o)).await?;
            }
        }
        // The first unhealthy pod: replicas lowest first, then condemned highest first.
        let condemned: Vec<&Arc<Pod>> = by_ordinal
            .iter()
            .rev()
            .filter(|(o, _)| !in_range(**o))
            .map(|(_, p)| p)
            .collect();
        let first_unhealthy = (start..start + replicas)
            .filter_map(|o| by_ordinal.get(&o))
            .chain(condemned.iter().copied())
            .find(|p| !healthy(p))
            .map(|p| p.name_any());

        let mut requeue = None;
        let mut step = Step::Next;
        for o in start..start + replicas {
            let s = match by_ordinal.get(&o) {
                None => {
                    let current_replicas = set
                        .status
                        .as_ref()
                        .and_then(|s| s.current_replicas)
                        .unwrap_or(0);
                    let (template, revision) = revs.for_ordinal(&spec, current_replicas, o, start);
                    self.create_pod(&set, template, o, revision, &pod_api)
                        .await?;
                    counts.replicas += 1;
                    counts.count_revision(Some(revision));
                    Step::Stop
                }
                Some(p) => {
                    let (available, wait) = pods::availability(p, min_ready, now);
                    if wait.is_some() {
                        requeue = wait;
                    }
                    if matches!(pods::phase(p), "Failed" | "Succeeded") {
                        // Recreated once the old pod is gone.
                        if p.metadata.deletion_timestamp.is_none() {
                            self.delete_pod(&set, p, &pod_api).await?;
                        }
                        Step::Stop
                    } else if p.metadata.deletion_timestamp.is_some()
                        || !status::running_and_ready(p)
                        || !available
                    {
                        Step::Stop
                    } else {
                        Step::Next
                    }
                }
            };
            if monotonic && s == Step::Stop {
                step = Step::Stop;
                break;
            }
        }
        // Scale down from the highest ordinal; OrderedReady waits for every lower ordinal to be
        // running and ready (the first unhealthy pod itself may go).
        if step == Step::Next {
            for p in &condemned {
                if p.metadata.deletion_timestamp.is_some() {
                    if monotonic {
                        step = Step::Stop;
                        break;
                    }
                    continue;
                }
                let first = first_unhealthy.as_deref() == Some(p.name_any().as_str());
                if monotonic
                    && !first
                    && !(status::running_and_ready(p)
                        && status::running_and_available(p, min_ready, now))
                {
                    step = Step::Stop;
                    break;
                }
                self.delete_pod(&set, p, &pod_api).await?;
                if monotonic {
                    step = Step::Stop;
                    break;
                }
            }
        }
        let strategy = spec.update_strategy.clone().unwrap_or_default();
        let rolling = strategy.type_.as_deref() != Some("OnDelete");
        if step == Step::Next && rolling {
            // Replace the highest out-of-date ordinal at or above the partition, one at a
            // time, each after the ones above it are healthy again.
            let partition = strategy
                .rolling_update
                .as_ref()
                .and_then(|r| r.partition)
                .unwrap_or(0);
            for o in (start + partition..start + replicas).rev() {
                let Some(p) = by_ordinal.get(&o) else { break };
                if revision_of(p) != Some(revs.update.as_str())
                    && p.metadata.deletion_timestamp.is_none()
                {
                    self.delete_pod(&set, p, &pod_api).await?;
                    counts.current -= 1;
                    break;
                }
                if !healthy(p) {
                    break;
                }
            }
        }
        if rolling {
            counts.complete_rolling_update();
        }
        self.prune_history(&set, &history, &by_ordinal, &revs, &rev_api)
            .await?;
        self.write_status(&set, &counts).await?;
        Ok(requeue)
    }

    /// Delete revisions beyond `revisionHistoryLimit`, oldest first, never the current or
    /// update revision or one a pod runs (upstream's `truncateHistory`).
    async fn prune_history(
        &self,
        set: &StatefulSet,
        history: &revisions::History,
        pods: &BTreeMap<i32, Arc<Pod>>,
        revs: &Revisions,
        api: &Api<ControllerRevision>,
    ) -> anyhow::Result<()> {
        let mut live: HashSet<&str> = pods.values().filter_map(|p| revision_of(p)).collect();
        live.insert(&revs.current);
        live.insert(&revs.update);
        let in_use = |r: &ControllerRevision| live.contains(r.name_any().as_str());
        let limit = set
            .spec
            .as_ref()
            .and_then(|s| s.revision_history_limit)
            .unwrap_or(revisions::DEFAULT_HISTORY_LIMIT)
            .max(0) as usize;
        let old = history.revisions.iter().filter(|r| !in_use(r)).count();
        if old <= limit {
            return Ok(());
        }
        let doomed = revisions::to_prune(&history.revisions, in_use, old - limit);
        revisions::prune(api, &doomed).await
    }

    async fn write_status(&self, set: &StatefulSet, counts: &status::Counts) -> anyhow::Result<()> {
        let status = counts.to_json(set.metadata.generation);
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
        if unchanged {
            return Ok(());
        }
        let api: Api<StatefulSet> = Api::namespaced(
            self.ctx.client.clone(),
            &set.namespace().unwrap_or_default(),
        );
        match api
            .patch_status(
                &set.name_any(),
                &PatchParams::default(),
                &Patch::Merge(json!({"status": status})),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn create_pod(
        &self,
        set: &StatefulSet,
        template: &PodTemplateSpec,
        o: i32,
        revision: &str,
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
        labels.insert(REVISION_LABEL.into(), revision.to_string());
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

    /// Delete `p`, that very pod (a stale cache must not delete its replacement).
    async fn delete_pod(&self, set: &StatefulSet, p: &Pod, api: &Api<Pod>) -> anyhow::Result<()> {
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                uid: p.metadata.uid.clone(),
                resource_version: None,
            }),
            ..Default::default()
        };
        match api.delete(&p.name_any(), &params).await {
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
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(()),
            Err(e) => {
                self.events.warning(
                    set,
                    "FailedDelete",
                    format!(
                        "delete Pod {} in StatefulSet {} failed error: {}",
                        p.name_any(),
                        set.name_any(),
                        crate::error_message(&e)
                    ),
                );
                Err(e.into())
            }
        }
    }
}
