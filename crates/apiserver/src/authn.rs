//! Authentication: who is asking.
//!
//! rkube authenticates the way upstream's apiserver does with client certificates and static
//! tokens enabled: a verified client certificate names the user (CN) and groups (O); otherwise a
//! bearer token is looked up in the token table (upstream's `--token-auth-file` format plus tokens
//! the server mints itself); otherwise the request is anonymous. Every authenticated user also
//! gets the `system:authenticated` group. Impersonation headers are parsed here; whether the
//! requester may impersonate is the authorizer's question.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, RwLock};

use anyhow::Context;
use http::HeaderMap;

use crate::serve::ConnInfo;

/// The user name of unauthenticated requests.
pub const ANONYMOUS_USER: &str = "system:anonymous";
/// The group of every unauthenticated request.
pub const UNAUTHENTICATED_GROUP: &str = "system:unauthenticated";
/// The group of every authenticated request.
pub const AUTHENTICATED_GROUP: &str = "system:authenticated";
/// The group of every service account.
pub const SERVICE_ACCOUNTS_GROUP: &str = "system:serviceaccounts";
/// The prefix of service account user names: `system:serviceaccount:<ns>:<name>`.
pub const SERVICE_ACCOUNT_PREFIX: &str = "system:serviceaccount:";

/// The identity a request acts as, as upstream's `user.Info`: what authorization, admission
/// (e.g. `managedFields` managers, `SelfSubjectReview`) and audit see.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct UserInfo {
    /// The user name (certificate CN, token file user, `system:serviceaccount:ns:name`, ...).
    pub name: String,
    /// A unique, stable identifier, when the authenticator knows one.
    pub uid: String,
    /// Group memberships, authenticator-supplied plus `system:authenticated`.
    pub groups: Vec<String>,
    /// Extra attributes (e.g. from `Impersonate-Extra-*`), keyed by lower-case name.
    pub extra: BTreeMap<String, Vec<String>>,
}

impl UserInfo {
    /// A user with a name and groups and nothing else, for tests and in-process identities.
    pub fn new(
        name: impl Into<String>,
        groups: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        UserInfo {
            name: name.into(),
            groups: groups.into_iter().map(Into::into).collect(),
            ..Default::default()
        }
    }

    /// The identity of a request without credentials, as upstream's anonymous authenticator
    /// gives it (`system:anonymous`, groups `[system:unauthenticated]`).
    pub fn anonymous() -> Self {
        UserInfo::new(ANONYMOUS_USER, [UNAUTHENTICATED_GROUP])
    }

    /// Whether this is the anonymous identity, which gets 403 for everything but the health and
    /// version endpoints unless RBAC grants it more.
    pub fn is_anonymous(&self) -> bool {
        self.name == ANONYMOUS_USER
    }

    /// Whether the user is in `group`.
    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }

    /// Adds `system:authenticated` unless present, as upstream does for every authenticated
    /// request.
    fn with_authenticated(mut self) -> Self {
        if !self.in_group(AUTHENTICATED_GROUP) {
            self.groups.push(AUTHENTICATED_GROUP.to_string());
        }
        self
    }
}

/// A pluggable bearer token check (for example service account JWTs), consulted after the
/// static token table.
pub trait TokenAuthenticator: Send + Sync {
    /// The user a token belongs to, or `None` if this authenticator does not know it.
    fn authenticate_token(&self, token: &str) -> Option<UserInfo>;
}

/// Why a request that presented credentials was refused: the caller answers 401.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("Unauthorized: {0}")]
pub struct Unauthorized(pub String);

/// Authenticates requests from client certificates and bearer tokens.
///
/// Cheap to share behind an `Arc`; tokens can be added while serving.
#[derive(Default)]
pub struct Authenticator {
    tokens: RwLock<HashMap<String, UserInfo>>,
    token_authenticators: RwLock<Vec<Arc<dyn TokenAuthenticator>>>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print tokens.
        let n = self.tokens.read().map(|t| t.len()).unwrap_or(0);
        f.debug_struct("Authenticator")
            .field("static_tokens", &n)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    /// An authenticator with the tokens of `token_file` (upstream's `--token-auth-file`
    /// format), or none.
    pub fn new(token_file: Option<&Path>) -> anyhow::Result<Self> {
        let auth = Authenticator::default();
        if let Some(path) = token_file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the token file {}", path.display()))?;
            let tokens = parse_token_file(&text)
                .with_context(|| format!("in the token file {}", path.display()))?;
            *auth.tokens.write().expect("token table lock") = tokens;
        }
        Ok(auth)
    }

    /// Registers a token the server minted itself (node join token, in-process components).
    /// A later registration of the same token replaces the earlier one.
    pub fn add_token(&self, token: impl Into<String>, user: UserInfo) {
        self.tokens
            .write()
            .expect("token table lock")
            .insert(token.into(), user);
    }

    /// Forgets a token added with [`Authenticator::add_token`] or read from the file.
    pub fn remove_token(&self, token: &str) {
        self.tokens.write().expect("token table lock").remove(token);
    }

    /// Adds a further bearer token check, consulted when the static table has no match.
    pub fn add_token_authenticator(&self, authenticator: Arc<dyn TokenAuthenticator>) {
        self.token_authenticators
            .write()
            .expect("token authenticator lock")
            .push(authenticator);
    }

    /// The user a request authenticates as: the verified client certificate's user first,
    /// else a known bearer token's user, in both cases plus `system:authenticated`; `None` if
    /// the request has no usable credentials *or* presents an unknown token (use
    /// [`Authenticator::authenticate_request`] to tell the two apart).
    pub fn authenticate(&self, conn: &ConnInfo, headers: &HeaderMap) -> Option<UserInfo> {
        self.check(conn, headers).ok().flatten()
    }

    /// Like upstream's authentication filter: the authenticated user; the anonymous user when
    /// the request carries no credentials; [`Unauthorized`] (→ 401) when it presents a bearer
    /// token nobody knows.
    pub fn authenticate_request(
        &self,
        conn: &ConnInfo,
        headers: &HeaderMap,
    ) -> Result<UserInfo, Unauthorized> {
        Ok(self
            .check(conn, headers)?
            .unwrap_or_else(UserInfo::anonymous))
    }

    /// `Ok(None)`: no credentials; `Err`: credentials nobody accepts.
    fn check(
        &self,
        conn: &ConnInfo,
        headers: &HeaderMap,
    ) -> Result<Option<UserInfo>, Unauthorized> {
        if let Some(user) = &conn.client_user {
            return Ok(Some(user.clone().with_authenticated()));
        }
        let Some(token) = bearer_token(headers) else {
            return Ok(None);
        };
        let known = self
            .tokens
            .read()
            .expect("token table lock")
            .get(token)
            .cloned();
        if let Some(user) = known {
            return Ok(Some(user.with_authenticated()));
        }
        let others = self
            .token_authenticators
            .read()
            .expect("token authenticator lock")
            .clone();
        for a in others {
            if let Some(user) = a.authenticate_token(token) {
                return Ok(Some(user.with_authenticated()));
            }
        }
        Err(Unauthorized("invalid bearer token".into()))
    }
}

/// The bearer token of an `Authorization` header, as upstream reads it: scheme `Bearer`
/// (any case), a single space, a non-empty token; anything else counts as no token.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim();
    let mut parts = value.splitn(3, ' ');
    let scheme = parts.next()?;
    let token = parts.next()?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return None;
    }
    Some(token)
}

/// Parses upstream's static token file: CSV records `token,user,uid[,"group1,group2"]`.
///
/// Blank lines and lines starting with `#` are skipped. A record with fewer than three
/// columns or with broken quoting is an error naming its line; a record with an empty token is
/// skipped, and a repeated token keeps its last user, as upstream does.
pub fn parse_token_file(text: &str) -> anyhow::Result<HashMap<String, UserInfo>> {
    let mut tokens = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = line.strip_suffix('\r').unwrap_or(line);
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let record = parse_csv_record(line).map_err(|e| anyhow::anyhow!("line {line_no}: {e}"))?;
        if record.len() < 3 {
            anyhow::bail!(
                "line {line_no}: a record needs at least 3 columns (token, user name, user uid), found {}",
                record.len()
            );
        }
        let token = &record[0];
        if token.is_empty() {
            tracing::warn!("token file line {line_no}: empty token, record skipped");
            continue;
        }
        if record[1].is_empty() {
            anyhow::bail!("line {line_no}: empty user name");
        }
        let groups = record
            .get(3)
            .map(|g| {
                g.split(',')
                    .map(str::trim)
                    .filter(|g| !g.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let user = UserInfo {
            name: record[1].clone(),
            uid: record[2].clone(),
            groups,
            extra: BTreeMap::new(),
        };
        if tokens.insert(token.clone(), user).is_some() {
            tracing::warn!("token file line {line_no}: duplicate token, the last one wins");
        }
    }
    Ok(tokens)
}

/// Splits one CSV line: comma-separated fields, leading blanks trimmed, double-quoted fields
/// may hold commas and `""` for a quote.
fn parse_csv_record(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while matches!(chars.peek(), Some(' ' | '\t')) {
            chars.next();
        }
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => {
                        return Err(format!("field {} has no closing quote", fields.len() + 1));
                    }
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => fields.push(field),
                Some(c) => {
                    return Err(format!(
                        "unexpected {c:?} after the closing quote of field {}",
                        fields.len() + 1
                    ));
                }
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field);
                        return Ok(fields);
                    }
                    Some(',') => {
                        fields.push(field);
                        break;
                    }
                    Some('"') => {
                        return Err(format!(
                            "stray quote in unquoted field {}",
                            fields.len() + 1
                        ));
                    }
                    Some(c) => field.push(c),
                }
            }
        }
    }
}

/// Header naming the user to act as.
pub const IMPERSONATE_USER: &str = "impersonate-user";
/// Header (repeatable) naming a group to act as.
pub const IMPERSONATE_GROUP: &str = "impersonate-group";
/// Header giving the uid to act as.
pub const IMPERSONATE_UID: &str = "impersonate-uid";
/// Prefix of headers giving extra attributes; the rest of the name is the key, lower case
/// and percent-encoded.
pub const IMPERSONATE_EXTRA_PREFIX: &str = "impersonate-extra-";

/// What a request asked to impersonate, exactly as requested. The authorizer checks each
/// part (`impersonate` on `users`/`serviceaccounts`, `groups`, `uids`, `userextras/<key>`)
/// before the request may act as the result of [`impersonate`].
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ImpersonationRequest {
    /// `Impersonate-User`.
    pub user: String,
    /// `Impersonate-Uid`, if given.
    pub uid: Option<String>,
    /// Every `Impersonate-Group`, in order.
    pub groups: Vec<String>,
    /// `Impersonate-Extra-<key>` values by key (lower-cased, then percent-decoded).
    pub extra: BTreeMap<String, Vec<String>>,
}

impl ImpersonationRequest {
    /// `(namespace, name)` when the impersonated user is a service account, which upstream
    /// authorizes as `impersonate` on `serviceaccounts` instead of `users`.
    pub fn service_account(&self) -> Option<(&str, &str)> {
        split_service_account(&self.user)
    }
}

fn split_service_account(user: &str) -> Option<(&str, &str)> {
    let rest = user.strip_prefix(SERVICE_ACCOUNT_PREFIX)?;
    let (ns, name) = rest.split_once(':')?;
    if ns.is_empty() || name.is_empty() || name.contains(':') {
        return None;
    }
    Some((ns, name))
}

/// Reads the impersonation headers of a request: `Ok(None)` when there are none; an error
/// when groups, uid or extras come without a user (upstream answers that with a 500 Status),
/// or when a header is not valid text or an extra key has a broken percent escape.
pub fn impersonation_request(headers: &HeaderMap) -> Result<Option<ImpersonationRequest>, String> {
    let mut req = ImpersonationRequest::default();
    let mut user = None;
    for (name, value) in headers {
        let name = name.as_str(); // the http crate keeps names in lower case
        let text = || {
            value
                .to_str()
                .map(str::to_string)
                .map_err(|_| format!("the {name} header is not valid text"))
        };
        if name == IMPERSONATE_USER {
            // The first value counts, as with Go's Header.Get.
            if user.is_none() {
                user = Some(text()?);
            }
        } else if name == IMPERSONATE_GROUP {
            req.groups.push(text()?);
        } else if name == IMPERSONATE_UID {
            if req.uid.is_none() {
                req.uid = Some(text()?).filter(|u| !u.is_empty());
            }
        } else if let Some(key) = name.strip_prefix(IMPERSONATE_EXTRA_PREFIX) {
            // Keys are percent-encoded so they can hold characters header names cannot; a
            // malformed escape keeps the key as sent, as upstream does.
            let key = percent_decode(key).unwrap_or_else(|| key.to_string());
            req.extra.entry(key).or_default().push(text()?);
        }
    }
    let user = user.unwrap_or_default();
    if user.is_empty() {
        let mut asked = Vec::new();
        if !req.groups.is_empty() {
            asked.push(format!("groups {:?}", req.groups));
        }
        if let Some(uid) = &req.uid {
            asked.push(format!("uid {uid:?}"));
        }
        if !req.extra.is_empty() {
            asked.push(format!("extra {:?}", req.extra));
        }
        if asked.is_empty() {
            // No impersonation headers, or only an empty Impersonate-User.
            return Ok(None);
        }
        return Err(format!(
            "requested {} without impersonating a user",
            asked.join(", ")
        ));
    }
    req.user = user;
    Ok(Some(req))
}

/// The identity `user` asks to act as through impersonation headers, built as upstream
/// builds it: the named user with the requested uid, groups and extras; a service account
/// without requested groups gets `system:serviceaccounts` and `system:serviceaccounts:<ns>`;
/// anyone but `system:anonymous` gets `system:authenticated` unless the request already named
/// it or `system:unauthenticated`; `system:anonymous` gets `system:unauthenticated`.
///
/// `Ok(None)` when the request does not impersonate. Whether `user` may impersonate is the
/// caller's (the authorizer's) decision, made on [`impersonation_request`]'s parts.
pub fn impersonate(user: &UserInfo, headers: &HeaderMap) -> Result<Option<UserInfo>, String> {
    let Some(req) =
        impersonation_request(headers).map_err(|e| format!("user {:?}: {e}", user.name))?
    else {
        return Ok(None);
    };
    Ok(Some(impersonated_user(&req)))
}

/// The identity an accepted [`ImpersonationRequest`] acts as (see [`impersonate`]).
pub fn impersonated_user(req: &ImpersonationRequest) -> UserInfo {
    let mut groups = req.groups.clone();
    if groups.is_empty()
        && let Some((ns, _)) = req.service_account()
    {
        groups.push(SERVICE_ACCOUNTS_GROUP.to_string());
        groups.push(format!("{SERVICE_ACCOUNTS_GROUP}:{ns}"));
    }
    if req.user == ANONYMOUS_USER {
        if !groups.iter().any(|g| g == UNAUTHENTICATED_GROUP) {
            groups.push(UNAUTHENTICATED_GROUP.to_string());
        }
    } else if !groups
        .iter()
        .any(|g| g == AUTHENTICATED_GROUP || g == UNAUTHENTICATED_GROUP)
    {
        groups.push(AUTHENTICATED_GROUP.to_string());
    }
    UserInfo {
        name: req.user.clone(),
        uid: req.uid.clone().unwrap_or_default(),
        groups,
        extra: req.extra.clone(),
    }
}

/// Decodes `%XX` escapes (as Go's `url.PathUnescape`); `None` on a broken escape or bytes
/// that are not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn conn(user: Option<UserInfo>) -> ConnInfo {
        ConnInfo {
            remote: "127.0.0.1:1234".parse().unwrap(),
            client_user: user,
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn token_file_parses_upstream_format() {
        let text = "\
# comment\n\
t1,alice,uid-1,\"dev,ops\"\n\
\n\
t2, bob, uid-2\r\n\
\"t,3\",carol,uid-3,single,ignored-extra-column\n\
t4,dave,uid-4,\n";
        let tokens = parse_token_file(text).unwrap();
        assert_eq!(
            tokens["t1"],
            UserInfo {
                name: "alice".into(),
                uid: "uid-1".into(),
                groups: vec!["dev".into(), "ops".into()],
                extra: BTreeMap::new()
            }
        );
        assert_eq!(tokens["t2"].name, "bob");
        assert_eq!(tokens["t2"].uid, "uid-2");
        assert!(tokens["t2"].groups.is_empty());
        assert_eq!(tokens["t,3"].groups, vec!["single".to_string()]);
        assert!(tokens["t4"].groups.is_empty());
        assert_eq!(tokens.len(), 4);
    }

    #[test]
    fn token_file_errors_name_the_line() {
        let err = parse_token_file("a,b,c\nonly,two\n").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
        assert!(err.to_string().contains("at least 3 columns"), "{err}");
        let err = parse_token_file("a,b,c\n\n\"open,b,c\n").unwrap_err();
        assert!(err.to_string().contains("line 3"), "{err}");
        let err = parse_token_file("a,b\"x,c\n").unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
    }

    #[test]
    fn empty_token_skipped_and_duplicate_last_wins() {
        let tokens = parse_token_file(",nobody,0\nt,first,1\nt,second,2\n").unwrap();
        assert_eq!(tokens.len(), 1);
        assert_eq!(tokens["t"].name, "second");
    }

    #[test]
    fn authenticator_reads_file_and_minted_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.csv");
        std::fs::write(&path, "secret,alice,u1,\"dev,ops\"\n").unwrap();
        let auth = Authenticator::new(Some(&path)).unwrap();
        let alice = auth
            .authenticate(&conn(None), &headers(&[("authorization", "Bearer secret")]))
            .unwrap();
        assert_eq!(alice.name, "alice");
        assert_eq!(alice.groups, ["dev", "ops", "system:authenticated"]);

        auth.add_token("minted", UserInfo::new("system:node:n1", ["system:nodes"]));
        let node = auth
            .authenticate(&conn(None), &headers(&[("authorization", "bearer minted")]))
            .unwrap();
        assert_eq!(node.groups, ["system:nodes", "system:authenticated"]);

        // Unknown token: no user, and a 401 from the request-level check.
        let h = headers(&[("authorization", "Bearer nope")]);
        assert_eq!(auth.authenticate(&conn(None), &h), None);
        assert!(auth.authenticate_request(&conn(None), &h).is_err());
        // No credentials, or a scheme that is not Bearer: anonymous.
        for h in [
            headers(&[]),
            headers(&[("authorization", "Basic YTpi")]),
            headers(&[("authorization", "Bearer ")]),
        ] {
            assert_eq!(auth.authenticate(&conn(None), &h), None);
            assert_eq!(
                auth.authenticate_request(&conn(None), &h).unwrap(),
                UserInfo::anonymous()
            );
        }
        auth.remove_token("minted");
        assert!(
            auth.authenticate(&conn(None), &headers(&[("authorization", "Bearer minted")]))
                .is_none()
        );
    }

    #[test]
    fn missing_token_file_is_an_error_with_its_path() {
        let err = Authenticator::new(Some(Path::new("/nonexistent/tokens.csv"))).unwrap_err();
        assert!(format!("{err:#}").contains("/nonexistent/tokens.csv"));
    }

    #[test]
    fn client_certificate_wins_over_token() {
        let auth = Authenticator::new(None).unwrap();
        auth.add_token("t", UserInfo::new("bob", Vec::<String>::new()));
        let c = conn(Some(UserInfo::new("admin", ["system:masters"])));
        let u = auth
            .authenticate(&c, &headers(&[("authorization", "Bearer t")]))
            .unwrap();
        assert_eq!(u.name, "admin");
        assert_eq!(u.groups, ["system:masters", "system:authenticated"]);
    }

    struct Fixed;
    impl TokenAuthenticator for Fixed {
        fn authenticate_token(&self, token: &str) -> Option<UserInfo> {
            (token == "jwt").then(|| UserInfo::new("system:serviceaccount:default:sa", ["x"]))
        }
    }

    #[test]
    fn pluggable_token_authenticators_are_consulted() {
        let auth = Authenticator::new(None).unwrap();
        auth.add_token_authenticator(Arc::new(Fixed));
        let u = auth
            .authenticate(&conn(None), &headers(&[("authorization", "Bearer jwt")]))
            .unwrap();
        assert_eq!(u.name, "system:serviceaccount:default:sa");
    }

    #[test]
    fn anonymous_helpers() {
        let a = UserInfo::anonymous();
        assert!(a.is_anonymous());
        assert_eq!(a.groups, ["system:unauthenticated"]);
        assert!(!UserInfo::new("admin", ["system:masters"]).is_anonymous());
    }

    #[test]
    fn impersonation_of_user_groups_uid_extra() {
        let me = UserInfo::new("admin", ["system:masters"]);
        assert_eq!(impersonate(&me, &headers(&[])).unwrap(), None);
        let h = headers(&[
            ("Impersonate-User", "jane"),
            ("Impersonate-Group", "devs"),
            ("Impersonate-Group", "qa"),
            ("Impersonate-Uid", "1234"),
            ("Impersonate-Extra-Scopes", "view"),
            ("Impersonate-Extra-Scopes", "edit"),
            ("Impersonate-Extra-Example.com%2fTeam", "blue"),
        ]);
        let u = impersonate(&me, &h).unwrap().unwrap();
        assert_eq!(u.name, "jane");
        assert_eq!(u.uid, "1234");
        assert_eq!(u.groups, ["devs", "qa", "system:authenticated"]);
        assert_eq!(u.extra["scopes"], ["view", "edit"]);
        assert_eq!(u.extra["example.com/team"], ["blue"]);
    }

    #[test]
    fn impersonation_of_service_accounts_and_anonymous() {
        let me = UserInfo::new("admin", ["system:masters"]);
        let u = impersonate(
            &me,
            &headers(&[(
                "Impersonate-User",
                "system:serviceaccount:kube-system:default",
            )]),
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            u.groups,
            [
                "system:serviceaccounts",
                "system:serviceaccounts:kube-system",
                "system:authenticated"
            ]
        );
        // Requested groups replace the service account's implied ones.
        let u = impersonate(
            &me,
            &headers(&[
                ("Impersonate-User", "system:serviceaccount:ns:sa"),
                ("Impersonate-Group", "other"),
            ]),
        )
        .unwrap()
        .unwrap();
        assert_eq!(u.groups, ["other", "system:authenticated"]);
        let u = impersonate(&me, &headers(&[("Impersonate-User", "system:anonymous")]))
            .unwrap()
            .unwrap();
        assert_eq!(u, UserInfo::anonymous());
        // Explicit system:unauthenticated suppresses system:authenticated.
        let u = impersonate(
            &me,
            &headers(&[
                ("Impersonate-User", "x"),
                ("Impersonate-Group", "system:unauthenticated"),
            ]),
        )
        .unwrap()
        .unwrap();
        assert_eq!(u.groups, ["system:unauthenticated"]);
    }

    #[test]
    fn impersonation_without_user_is_rejected() {
        let me = UserInfo::new("admin", ["system:masters"]);
        let err = impersonate(&me, &headers(&[("Impersonate-Group", "devs")])).unwrap_err();
        assert!(err.contains("without impersonating a user"), "{err}");
        assert!(impersonate(&me, &headers(&[("Impersonate-Uid", "1")])).is_err());
        assert!(impersonate(&me, &headers(&[("Impersonate-Extra-k", "1")])).is_err());
        // An empty Impersonate-User alone is no impersonation at all.
        assert_eq!(
            impersonate(&me, &headers(&[("Impersonate-User", "")])).unwrap(),
            None
        );
        // A malformed escape keeps the key as sent.
        let u = impersonate(
            &me,
            &headers(&[("Impersonate-Extra-%zz", "1"), ("Impersonate-User", "u")]),
        )
        .unwrap()
        .unwrap();
        assert_eq!(u.extra["%zz"], ["1"]);
    }

    #[test]
    fn service_account_split() {
        let req = |u: &str| ImpersonationRequest {
            user: u.into(),
            ..Default::default()
        };
        assert_eq!(
            req("system:serviceaccount:ns:n").service_account(),
            Some(("ns", "n"))
        );
        assert_eq!(req("system:serviceaccount:ns").service_account(), None);
        assert_eq!(req("system:serviceaccount::n").service_account(), None);
        assert_eq!(req("alice").service_account(), None);
    }
}
