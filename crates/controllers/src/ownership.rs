//! Ownership, as upstream's controller-ref manager does it: a controller owns the objects
//! whose controller ownerReference points at it; it adopts matching orphans (when it is not
//! being deleted) and releases owned objects whose labels stopped matching.
//!
//! The owner a controller works from comes from its cache, which can lag: before its first
//! adoption in a claim, the owner is read again from the API server, and nothing is adopted if
//! it has meanwhile been deleted or replaced by a namesake (upstream's
//! `RecheckDeletionTimestamp`), so no orphan is tied to an owner the garbage collector would
//! then delete it with.

use anyhow::Context as _;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use kube::api::{Patch, PatchParams};
use kube::{Api, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;

/// The ownerReference marked `controller: true`, if any.
pub fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true))
}

/// Whether `meta` is controlled by the object with `uid`.
pub fn is_controlled_by(meta: &ObjectMeta, uid: &str) -> bool {
    controller_of(meta).is_some_and(|r| r.uid == uid)
}

/// The controller reference a controller puts on what it creates or adopts.
pub fn controller_ref<K: Resource<DynamicType = ()>>(owner: &K) -> OwnerReference {
    OwnerReference {
        api_version: K::api_version(&()).into_owned(),
        kind: K::kind(&()).into_owned(),
        name: owner.meta().name.clone().unwrap_or_default(),
        uid: owner.meta().uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// Whether `labels` satisfy `selector` (matchLabels and matchExpressions).
pub fn selector_matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    for (k, v) in selector.match_labels.iter().flatten() {
        if labels.get(k) != Some(v) {
            return false;
        }
    }
    for e in selector.match_expressions.iter().flatten() {
        let have = labels.get(&e.key);
        let values = e.values.as_deref().unwrap_or_default();
        let ok = match e.operator.as_str() {
            "In" => have.is_some_and(|h| values.contains(h)),
            "NotIn" => have.is_none_or(|h| !values.contains(h)),
            "Exists" => have.is_some(),
            "DoesNotExist" => have.is_none(),
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    true
}

/// Whether a selector selects nothing-in-particular (upstream refuses to act on those).
pub fn selector_is_empty(selector: &LabelSelector) -> bool {
    selector.match_labels.as_ref().is_none_or(|m| m.is_empty())
        && selector
            .match_expressions
            .as_ref()
            .is_none_or(|m| m.is_empty())
}

fn labels_of(meta: &ObjectMeta) -> BTreeMap<String, String> {
    meta.labels.clone().unwrap_or_default()
}

/// Adopt matching orphans and release non-matching children among `candidates` (objects in
/// the owner's namespace); returns the children the owner controls afterwards. Fails, adopting
/// nothing, when the owner turns out to be deleted or replaced (see the module docs).
pub async fn claim<O, C>(
    owner: &O,
    matches: impl Fn(&BTreeMap<String, String>) -> bool,
    candidates: Vec<Arc<C>>,
    api: &Api<C>,
) -> anyhow::Result<Vec<Arc<C>>>
where
    O: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Debug,
    C: Resource<DynamicType = ()> + Clone + DeserializeOwned + Serialize + Debug,
{
    let mut recheck = AdoptionRecheck::Pending;
    let owner_uid = owner.meta().uid.clone().unwrap_or_default();
    let owner_deleting = owner.meta().deletion_timestamp.is_some();
    let mut claimed = Vec::new();
    for child in candidates {
        let meta = child.meta();
        match controller_of(meta) {
            Some(r) if r.uid == owner_uid => {
                if matches(&labels_of(meta)) || owner_deleting {
                    claimed.push(child);
                } else if meta.deletion_timestamp.is_none() {
                    release(&owner_uid, child.as_ref(), api).await?;
                }
            }
            Some(_) => {}
            None => {
                if owner_deleting || meta.deletion_timestamp.is_some() || !matches(&labels_of(meta))
                {
                    continue;
                }
                recheck.ensure(owner, api).await?;
                match adopt(owner, child.as_ref(), api).await {
                    Ok(adopted) => claimed.push(Arc::new(adopted)),
                    // Gone or changed meanwhile: the next sync sees the new state.
                    Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    Ok(claimed)
}

/// Whether the owner was confirmed live with an uncached read; done at most once per claim.
enum AdoptionRecheck {
    Pending,
    Done,
}

impl AdoptionRecheck {
    /// Read the owner from the API server (once) and fail if it is being deleted or is not the
    /// object the cache had (another UID, or gone).
    async fn ensure<O, C>(&mut self, owner: &O, children: &Api<C>) -> anyhow::Result<()>
    where
        O: Resource<DynamicType = (), Scope = NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + Debug,
        C: Resource<DynamicType = ()> + Clone,
    {
        if matches!(self, AdoptionRecheck::Done) {
            return Ok(());
        }
        let meta = owner.meta();
        let (ns, name) = (
            meta.namespace.clone().unwrap_or_default(),
            meta.name.clone().unwrap_or_default(),
        );
        let kind = O::kind(&());
        let owners: Api<O> = Api::namespaced(children.clone().into_client(), &ns);
        let fresh = owners
            .get(&name)
            .await
            .with_context(|| format!("rechecking {kind} {ns}/{name} before adopting"))?;
        refuse_adoption(meta, fresh.meta())?;
        *self = AdoptionRecheck::Done;
        Ok(())
    }
}

/// Why an owner (as cached: `cached`; as just read: `fresh`) may not adopt, as upstream words it.
fn refuse_adoption(cached: &ObjectMeta, fresh: &ObjectMeta) -> anyhow::Result<()> {
    let (ns, name) = (
        cached.namespace.as_deref().unwrap_or_default(),
        cached.name.as_deref().unwrap_or_default(),
    );
    if fresh.uid != cached.uid {
        anyhow::bail!(
            "original {ns}/{name} is gone: got uid {}, wanted {}",
            fresh.uid.as_deref().unwrap_or_default(),
            cached.uid.as_deref().unwrap_or_default()
        );
    }
    if let Some(t) = &fresh.deletion_timestamp {
        anyhow::bail!("{ns}/{name} has just been deleted at {}", t.0);
    }
    Ok(())
}

async fn adopt<O, C>(owner: &O, child: &C, api: &Api<C>) -> Result<C, kube::Error>
where
    O: Resource<DynamicType = ()>,
    C: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
{
    let mut refs = child.meta().owner_references.clone().unwrap_or_default();
    refs.push(controller_ref(owner));
    patch_owner_refs(child, refs, api).await
}

async fn release<C>(owner_uid: &str, child: &C, api: &Api<C>) -> anyhow::Result<()>
where
    C: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
{
    let refs: Vec<_> = child
        .meta()
        .owner_references
        .iter()
        .flatten()
        .filter(|r| r.uid != owner_uid)
        .cloned()
        .collect();
    match patch_owner_refs(child, refs, api).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Replace the ownerReferences of `child`, only if it has not changed since it was read.
pub async fn patch_owner_refs<C>(
    child: &C,
    refs: Vec<OwnerReference>,
    api: &Api<C>,
) -> Result<C, kube::Error>
where
    C: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
{
    let refs = if refs.is_empty() {
        Value::Null
    } else {
        serde_json::to_value(refs).expect("owner references serialize")
    };
    let patch = json!({"metadata": {
        "ownerReferences": refs,
        "uid": child.meta().uid,
        "resourceVersion": child.meta().resource_version,
    }});
    api.patch(
        child.meta().name.as_deref().unwrap_or_default(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await
}
