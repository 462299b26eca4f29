//! Rolling out: RollingUpdate (grow the new ReplicaSet within maxSurge, shrink old ones while
//! keeping replicas - maxUnavailable available), Recreate (old ones to zero, wait for their
//! pods to go, then the new one), and plain scaling, proportional across ReplicaSets while a
//! rollout is in progress.

use super::Run;
use super::util::{self, MAX_REPLICAS};
use crate::ownership::is_controlled_by;
use crate::pods;
use kube::ResourceExt;
use std::collections::HashMap;
use std::time::Duration;

type SyncResult = anyhow::Result<Option<Duration>>;

impl Run<'_> {
    pub(super) async fn rollout_rolling(&mut self) -> SyncResult {
        let new = self.sync_new_rs(true).await?;
        if self.reconcile_new(new).await? {
            return self.sync_rollout_status(new).await;
        }
        if self.reconcile_old(new).await? {
            return self.sync_rollout_status(new).await;
        }
        if self.complete(new) {
            self.cleanup(new).await?;
        }
        self.sync_rollout_status(new).await
    }

    /// Scale the new ReplicaSet towards the desired count; whether it changed.
    async fn reconcile_new(&mut self, new: Option<usize>) -> anyhow::Result<bool> {
        let Some(i) = new else { return Ok(false) };
        let want = util::replicas(&self.d);
        let have = util::rs_replicas(&self.sets[i]);
        if have == want {
            return Ok(false);
        }
        let to = if have > want {
            want
        } else {
            self.new_rs_replicas(new)
        };
        self.scale(i, to).await
    }

    /// Scale old ReplicaSets down as far as availability allows; whether any changed.
    async fn reconcile_old(&mut self, new: Option<usize>) -> anyhow::Result<bool> {
        let old = self.old_indices(new);
        let old_count: i32 = old.iter().map(|&i| util::rs_replicas(&self.sets[i])).sum();
        if old_count == 0 {
            return Ok(false);
        }
        let all: i32 = self.sets.iter().map(util::rs_replicas).sum();
        let min_available = util::replicas(&self.d) - util::max_unavailable(&self.d);
        let new_unavailable = new.map_or(0, |i| {
            util::rs_replicas(&self.sets[i]) - util::rs_available(&self.sets[i])
        });
        let max_scaled_down = all - min_available - new_unavailable;
        if max_scaled_down <= 0 {
            return Ok(false);
        }
        let mut by_age = old.clone();
        by_age.sort_by_key(|&i| (util::created(&self.sets[i]), self.sets[i].name_any()));

        // First the unhealthy replicas of old ReplicaSets: they do not count as available.
        let mut cleaned = 0;
        for &i in &by_age {
            if cleaned >= max_scaled_down {
                break;
            }
            let rs = &self.sets[i];
            let (spec, healthy) = (util::rs_replicas(rs), util::rs_available(rs));
            if spec == 0 || spec == healthy {
                continue;
            }
            let down = (max_scaled_down - cleaned).min(spec - healthy);
            self.scale(i, spec - down).await?;
            cleaned += down;
        }

        // Then available ones, as far as minimum availability allows.
        let available: i32 = self.sets.iter().map(util::rs_available).sum();
        let mut scaled = cleaned;
        if available > min_available {
            let total_down = available - min_available;
            let mut done = 0;
            for &i in &by_age {
                if done >= total_down {
                    break;
                }
                let spec = util::rs_replicas(&self.sets[i]);
                if spec == 0 {
                    continue;
                }
                let down = spec.min(total_down - done);
                self.scale(i, spec - down).await?;
                done += down;
            }
            scaled += done;
        }
        Ok(scaled > 0)
    }

    pub(super) async fn rollout_recreate(&mut self) -> SyncResult {
        let mut new = self.sync_new_rs(false).await?;
        let mut scaled = false;
        for i in self.old_indices(new) {
            if util::rs_replicas(&self.sets[i]) != 0 {
                scaled |= self.scale(i, 0).await?;
            }
        }
        if scaled {
            return self.sync_rollout_status(new).await;
        }
        if self.old_pods_running(new) {
            return self.sync_rollout_status(new).await;
        }
        if new.is_none() {
            new = self.sync_new_rs(true).await?;
        }
        if let Some(i) = new {
            let want = util::replicas(&self.d);
            if self.scale(i, want).await? {
                return self.sync_rollout_status(new).await;
            }
        }
        if self.complete(new) {
            self.cleanup(new).await?;
        }
        self.sync_rollout_status(new).await
    }

    /// Whether a pod of an old ReplicaSet has not finished yet.
    fn old_pods_running(&self, new: Option<usize>) -> bool {
        let ns = self.d.namespace().unwrap_or_default();
        let old_uids: Vec<String> = self
            .old_indices(new)
            .into_iter()
            .filter_map(|i| self.sets[i].uid())
            .collect();
        self.ctx
            .informers
            .pods
            .list_namespaced(&ns)
            .iter()
            .filter(|p| old_uids.iter().any(|u| is_controlled_by(&p.metadata, u)))
            .any(|p| !matches!(pods::phase(p), "Succeeded" | "Failed"))
    }

    /// Paused, or the replica count changed mid-rollout: scale without rolling.
    pub(super) async fn scale_and_sync(&mut self) -> SyncResult {
        let new = self.sync_new_rs(false).await?;
        self.scale_all(new).await?;
        if util::paused(&self.d) {
            self.cleanup(new).await?;
        }
        self.write_status(new).await?;
        Ok(None)
    }

    pub(super) async fn sync_status_only(&mut self) -> SyncResult {
        let new = self.new_index();
        self.write_status(new).await?;
        Ok(None)
    }

    async fn scale_all(&mut self, new: Option<usize>) -> anyhow::Result<()> {
        let want = util::replicas(&self.d);
        let active: Vec<usize> = (0..self.sets.len())
            .filter(|&i| util::rs_replicas(&self.sets[i]) > 0)
            .collect();
        // One active ReplicaSet (or none): it, or the newest, gets everything.
        let only = match active.as_slice() {
            [one] => Some(*one),
            [] => new.or_else(|| {
                (0..self.sets.len())
                    .max_by_key(|&i| (util::created(&self.sets[i]), self.sets[i].name_any()))
            }),
            _ => None,
        };
        if let Some(i) = only {
            self.scale(i, want).await?;
            return Ok(());
        }
        // The new ReplicaSet is saturated: old ones go.
        if let Some(i) = new {
            let rs = &self.sets[i];
            if util::rs_replicas(rs) == want
                && util::annotation_i32(rs, super::util::DESIRED_REPLICAS) == Some(want)
                && util::rs_available(rs) == want
            {
                for j in self.old_indices(new) {
                    self.scale(j, 0).await?;
                }
                return Ok(());
            }
        }
        if util::is_recreate(&self.d) {
            return Ok(());
        }
        // Proportional scaling: share the change among active ReplicaSets by their size.
        let (surge, _) = util::fenceposts(&self.d);
        let allowed = if want > 0 { want + surge } else { 0 };
        let current: i32 = active
            .iter()
            .map(|&i| util::rs_replicas(&self.sets[i]))
            .sum();
        let to_add = allowed - current;
        let mut order = active.clone();
        order.sort_by(|&a, &b| {
            let (ra, rb) = (
                util::rs_replicas(&self.sets[a]),
                util::rs_replicas(&self.sets[b]),
            );
            // Equal sizes: newer first when growing, older first when shrinking.
            let age = |i: usize| (util::created(&self.sets[i]), self.sets[i].name_any());
            if to_add > 0 {
                rb.cmp(&ra).then(age(b).cmp(&age(a)))
            } else {
                rb.cmp(&ra).then(age(a).cmp(&age(b)))
            }
        });
        let mut sizes: HashMap<usize, i32> = HashMap::new();
        let mut added = 0;
        for &i in &order {
            let rs = &self.sets[i];
            let size = util::rs_replicas(rs);
            let mut proportion = 0;
            if to_add != 0 && to_add != added && size != 0 {
                let fraction = self.fraction(i);
                let allowed_left = to_add - added;
                proportion = if to_add > 0 {
                    fraction.min(allowed_left)
                } else {
                    fraction.max(allowed_left)
                };
            }
            sizes.insert(i, size + proportion);
            added += proportion;
        }
        if to_add != added
            && let Some(&first) = order.first()
        {
            let s = sizes.entry(first).or_default();
            *s = (*s + to_add - added).max(0);
        }
        for &i in &order {
            let size = sizes[&i].max(0);
            self.scale(i, size).await?;
        }
        Ok(())
    }

    /// How many replicas ReplicaSet `i` should gain or lose when the Deployment resizes.
    fn fraction(&self, i: usize) -> i32 {
        let rs = &self.sets[i];
        let want = util::replicas(&self.d);
        if want == 0 {
            return -util::rs_replicas(rs);
        }
        let (surge, _) = util::fenceposts(&self.d);
        let deployment_max = want + surge;
        let annotated = util::annotation_i32(rs, MAX_REPLICAS)
            .unwrap_or_else(|| self.d.status.as_ref().and_then(|s| s.replicas).unwrap_or(0));
        if annotated == 0 {
            return 0;
        }
        let size = i64::from(util::rs_replicas(rs));
        let new_size =
            ((size * i64::from(deployment_max)) as f64 / f64::from(annotated)).round() as i64;
        (new_size - size) as i32
    }
}
