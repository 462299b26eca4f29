//! The generic REST handler: one implementation of get, list, watch, create, update, patch and
//! delete for every resource, parameterised by the resource's catalog entry and strategy
//! (upstream's `genericregistry.Store` plus `handlers`).

mod binding;
mod create;
mod delete;
mod eviction;
mod owner_refs;
mod patch_validation;
mod read;
mod subresource;
mod update;
mod watch;

pub use create::random_suffix as random_name_suffix;
pub use create::with_warnings as create_with_warnings;
pub use read::list_response;

use crate::authn::UserInfo;
use crate::http::Query;
use crate::request::RequestInfo;
use crate::storage::ObjectStore;
use crate::watchcache::WatchCaches;
use axum::response::Response;
use bytes::Bytes;
use http::HeaderMap;
use rkube_machinery::{ApiError, GroupResource};
use rkube_registry::{ResourceInfo, Strategy};
use std::collections::HashMap;
use std::sync::Arc;

/// Everything the handler needs: storage, caches, each resource's strategy, allocators.
pub struct Api {
    pub store: ObjectStore,
    pub caches: Arc<WatchCaches>,
    strategies: HashMap<usize, Arc<dyn Strategy>>,
    pub services: crate::services::ServiceAllocator,
}

/// One resource request after authentication and authorization.
pub struct ApiRequest {
    pub info: RequestInfo,
    pub resource: &'static ResourceInfo,
    pub strategy: Option<Arc<dyn Strategy>>,
    pub query: Query,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub user: UserInfo,
}

impl ApiRequest {
    pub fn gr(&self) -> GroupResource {
        GroupResource::new(self.resource.group, self.resource.plural)
    }

    pub fn name(&self) -> &str {
        self.info.name.as_deref().unwrap_or("")
    }

    pub fn namespace(&self) -> Option<&str> {
        if self.resource.namespaced {
            self.info.namespace.as_deref()
        } else {
            None
        }
    }

    pub fn key(&self) -> String {
        self.resource.storage_key(self.namespace(), self.name())
    }

    pub fn content_type(&self) -> &str {
        self.headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/json")
    }

    /// The strategy of a stored resource (every resource that reaches the generic verbs).
    pub fn strategy(&self) -> Result<&Arc<dyn Strategy>, ApiError> {
        self.strategy
            .as_ref()
            .ok_or_else(|| ApiError::method_not_supported(&self.gr(), &self.info.verb))
    }
}

impl Api {
    pub fn new(
        store: ObjectStore,
        caches: Arc<WatchCaches>,
        strategies: Vec<(&'static ResourceInfo, Arc<dyn Strategy>)>,
        services: crate::services::ServiceAllocator,
    ) -> Self {
        let strategies = strategies
            .into_iter()
            .map(|(i, s)| (i as *const ResourceInfo as usize, s))
            .collect();
        Self {
            store,
            caches,
            strategies,
            services,
        }
    }

    pub fn strategy(&self, info: &'static ResourceInfo) -> Option<Arc<dyn Strategy>> {
        self.strategies
            .get(&(info as *const ResourceInfo as usize))
            .cloned()
    }

    /// Serve a resource request.
    pub async fn handle(&self, req: ApiRequest) -> Response {
        match self.route(req).await {
            Ok(r) => r,
            Err(e) => crate::http::error(&e),
        }
    }

    async fn route(&self, req: ApiRequest) -> Result<Response, ApiError> {
        if let Some(sub) = req.info.subresource.clone() {
            return subresource::handle(self, req, &sub).await;
        }
        if !req.resource.has_verb(&req.info.verb) {
            return Err(ApiError::method_not_supported(&req.gr(), &req.info.verb));
        }
        match req.info.verb.as_str() {
            "get" => read::get(self, &req).await,
            "list" => read::list(self, &req).await,
            "watch" => watch::watch(self, &req).await,
            "create" => create::create(self, &req).await,
            "update" => update::replace(self, &req, update::Target::Main).await,
            "patch" => update::patch(self, &req, update::Target::Main).await,
            "delete" => delete::delete(self, &req).await,
            "deletecollection" => delete::delete_collection(self, &req).await,
            v => Err(ApiError::method_not_supported(&req.gr(), v)),
        }
    }

    /// Refuse writes into a namespace that does not exist (404) or is terminating (403).
    ///
    /// Like upstream's NamespaceLifecycle admission, the namespace comes from the watch cache;
    /// only one the cache does not know yet (just created) is looked up in the store.
    pub async fn check_namespace_writable(&self, req: &ApiRequest) -> Result<(), ApiError> {
        let Some(ns) = req.namespace() else {
            return Ok(());
        };
        let ns_gr = GroupResource::new("", "namespaces");
        let namespaces = rkube_registry::catalog::find("", "v1", "namespaces")
            .ok_or_else(|| ApiError::internal("namespaces are not in the catalog"))?;
        let key = namespaces.storage_key(None, ns);
        let cached = self.caches.get(namespaces).and_then(|c| c.get(&key));
        let terminating = match cached {
            Some(c) => c.deleting,
            None => match self.store.get(&key, namespaces, ns).await? {
                None => return Err(ApiError::not_found(&ns_gr, ns)),
                Some(s) => crate::object::deletion_timestamp(&s.object).is_some(),
            },
        };
        if terminating {
            return Err(ApiError::forbidden(
                &req.gr(),
                req.name(),
                &format!(
                    "unable to create new content in namespace {ns} because it is being terminated"
                ),
            ));
        }
        Ok(())
    }
}
