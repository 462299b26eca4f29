//! Pod management of a Job that is not ending: delete every pod while suspended, delete the
//! surplus (repeated or out-of-range indexes first), otherwise create pods towards
//! `parallelism` (the lowest pending indexes of an Indexed Job) unless a back-off is running;
//! pods that are terminating block replacement when only failed pods are replaced.

use super::per_index;
use super::run::Run;
use super::{index_of, only_replace_failed, pod_template, remove_finalizer};
use crate::ownership::controller_ref;
use crate::pods;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{DeleteParams, PostParams};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

impl Run<'_> {
    /// Delete pods of an ending Job, keeping their finalizers so they are counted.
    pub(super) async fn delete_active(&self, victims: &[Arc<Pod>]) -> anyhow::Result<i32> {
        let mut deleted = 0;
        for p in victims {
            match self
                .pod_api
                .delete(&p.name_any(), &DeleteParams::default())
                .await
            {
                Ok(_) => {
                    deleted += 1;
                    self.c.events.normal(
                        &self.job,
                        "SuccessfulDelete",
                        format!("Deleted pod: {}", p.name_any()),
                    );
                }
                Err(kube::Error::Api(s)) if s.code == 404 => deleted += 1,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(deleted)
    }

    /// Delete pods the Job no longer wants (suspended, too many): their finalizer goes first,
    /// so they are not counted as failures. Returns how many went and how many were ready.
    async fn delete_unwanted(&self, victims: &[Arc<Pod>]) -> anyhow::Result<(i32, i32)> {
        let (mut removed, mut ready) = (0, 0);
        for p in victims {
            remove_finalizer(&self.pod_api, p).await?;
            self.c
                .counted
                .lock()
                .expect("counted lock")
                .entry(self.key.clone())
                .or_default()
                .insert(p.uid().unwrap_or_default());
            self.c.expectations.expect_delete(self.key, p.name_any());
            match self
                .pod_api
                .delete(&p.name_any(), &DeleteParams::default())
                .await
            {
                Ok(_) => self.c.events.normal(
                    &self.job,
                    "SuccessfulDelete",
                    format!("Deleted pod: {}", p.name_any()),
                ),
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(e.into()),
            }
            removed += 1;
            if pods::is_ready(p) {
                ready += 1;
            }
        }
        Ok((removed, ready))
    }

    /// Active pods to delete: for Indexed Jobs first those without a valid index and all but
    /// one per repeated index, then in upstream's deletion order.
    fn pods_for_removal(&self, active: &[Arc<Pod>], at_least: usize) -> Vec<Arc<Pod>> {
        let mut rm: Vec<Arc<Pod>> = Vec::new();
        let mut left: Vec<Arc<Pod>> = Vec::new();
        if self.indexed() {
            let mut by_index: HashMap<i32, Vec<Arc<Pod>>> = HashMap::new();
            for p in active {
                match index_of(p).filter(|i| *i < self.completions()) {
                    Some(i) => by_index.entry(i).or_default().push(p.clone()),
                    None => rm.push(p.clone()),
                }
            }
            for (_, mut same) in by_index {
                same.sort_by(|a, b| pods::deletion_order(a, b));
                let keep = same.pop();
                rm.extend(same);
                left.extend(keep);
            }
        } else {
            left = active.to_vec();
        }
        if rm.len() < at_least {
            left.sort_by(|a, b| pods::deletion_order(a, b));
            let more = at_least - rm.len();
            rm.extend(left.into_iter().take(more));
        }
        rm
    }

    /// Create or delete pods towards the wanted number of active ones. Returns the active
    /// count after, how many ready pods were deleted, and when to look again while backing off.
    pub(super) async fn manage(
        &mut self,
        active: &[Arc<Pod>],
        succeeded: i32,
    ) -> anyhow::Result<(i32, i32, Option<Duration>)> {
        let have = active.len() as i32;
        if self.suspended() {
            let mut victims = active.to_vec();
            victims.sort_by(|a, b| pods::deletion_order(a, b));
            let (removed, ready) = self.delete_unwanted(&victims).await?;
            self.terminating += removed;
            return Ok((have - removed, ready, None));
        }
        let parallelism = self.spec.parallelism.unwrap_or(1).max(0);
        let want = match self.spec.completions {
            None if succeeded > 0 => have,
            None => parallelism,
            Some(c) => (c - succeeded).clamp(0, parallelism),
        };
        let victims = self.pods_for_removal(active, (have - want).max(0) as usize);
        if !victims.is_empty() {
            let (removed, ready) = self.delete_unwanted(&victims).await?;
            self.terminating += removed;
            return Ok((have - removed, ready, None));
        }
        let terminating = if only_replace_failed(&self.job) {
            self.terminating
        } else {
            0
        };
        let diff = want - terminating - have;
        if diff <= 0 {
            return Ok((have, 0, None));
        }
        let per_index = self.spec.backoff_limit_per_index.is_some();
        let now = jiff::Timestamp::now();
        if !per_index {
            let wait = self.backoff.remaining(now);
            if !wait.is_zero() {
                return Ok((have, 0, Some(wait)));
            }
        }
        let to_create: Vec<Option<i32>> = if self.indexed() {
            let mut pending = self.first_pending_indexes(active, diff as usize);
            if per_index {
                let waits: Vec<Duration> = pending
                    .iter()
                    .map(|i| per_index::remaining(self.awaiting.get(i).map(|p| p.as_ref()), now))
                    .collect();
                let ready_now: Vec<i32> = pending
                    .iter()
                    .zip(&waits)
                    .filter(|(_, w)| w.is_zero())
                    .map(|(i, _)| *i)
                    .collect();
                if ready_now.is_empty() && !pending.is_empty() {
                    return Ok((have, 0, waits.into_iter().min()));
                }
                pending = ready_now;
            }
            pending.into_iter().map(Some).collect()
        } else {
            vec![None; diff as usize]
        };
        let created = self.create_pods(&to_create).await?;
        Ok((have + created, 0, None))
    }

    /// The lowest indexes not succeeded, failed, running or (when only failed pods are
    /// replaced) terminating.
    fn first_pending_indexes(&self, active: &[Arc<Pod>], count: usize) -> Vec<i32> {
        let mut busy: BTreeSet<i32> = self.succeeded_indexes.clone();
        busy.extend(active.iter().filter_map(|p| index_of(p)));
        if only_replace_failed(&self.job) {
            busy.extend(
                self.pods
                    .iter()
                    .filter(|p| pods::is_terminating(p))
                    .filter_map(|p| index_of(p)),
            );
        }
        busy.extend(self.failed_indexes.iter().flatten());
        (0..self.completions())
            .filter(|i| !busy.contains(i))
            .take(count)
            .collect()
    }

    /// Create pods in batches of 1, 2, 4 ... (upstream's slow start); returns how many exist.
    async fn create_pods(&mut self, to_create: &[Option<i32>]) -> anyhow::Result<i32> {
        let template = self.spec.template.clone();
        let owner = controller_ref(&self.job);
        let name = self.job.name_any();
        let per_index = self.spec.backoff_limit_per_index.is_some();
        let pp = PostParams::default();
        let mut created = 0;
        let mut batch = 1usize;
        let mut i = 0usize;
        while i < to_create.len() {
            let n = batch.min(to_create.len() - i);
            let pods: Vec<Pod> = to_create[i..i + n]
                .iter()
                .map(|idx| {
                    let mut pod = pod_template::build(&template, owner.clone(), &name, *idx);
                    if let (Some(ix), true) = (idx, per_index) {
                        let replaced = self.awaiting.get(ix).map(|p| p.as_ref());
                        let (failures, ignored) = per_index::next_counts(&self.job, replaced);
                        let a = pod
                            .metadata
                            .annotations
                            .get_or_insert_with(Default::default);
                        a.insert(per_index::FAILURE_COUNT.into(), failures.to_string());
                        if ignored > 0 {
                            a.insert(per_index::IGNORED_FAILURE_COUNT.into(), ignored.to_string());
                        }
                    }
                    pod
                })
                .collect();
            let results =
                futures::future::join_all(pods.iter().map(|p| self.pod_api.create(&pp, p))).await;
            for r in results {
                match r {
                    Ok(p) => {
                        created += 1;
                        self.c.expectations.expect_create(self.key, p.name_any());
                        self.c.events.normal(
                            &self.job,
                            "SuccessfulCreate",
                            format!("Created pod: {}", p.name_any()),
                        );
                    }
                    Err(e) => {
                        let msg = crate::error_message(&e);
                        self.c.events.warning(
                            &self.job,
                            "FailedCreate",
                            format!("Error creating: {msg}"),
                        );
                        return Err(e.into());
                    }
                }
            }
            i += n;
            batch *= 2;
        }
        Ok(created)
    }
}
