//! Basic authentication of the daemon's endpoints against bcrypt hashes, and the security
//! headers of the web configuration.
//!
//! bcrypt is slow on purpose (tens of milliseconds at cost 10), and the prober measures
//! latencies on the same cores: verifications run one at a time on the blocking pool, and a
//! verified user and password (kept as a SHA-256 digest, never in clear) is remembered until the
//! web configuration changes. An unknown user costs a verification too, so that timing does not
//! tell which users exist.

use super::WebState;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// At most this many remembered answers; the cache starts over when full.
const CACHE_ENTRIES: usize = 1024;

/// Answers of bcrypt already computed, keyed by a digest of user, hash and password.
pub struct AuthCache {
    answers: Mutex<HashMap<[u8; 32], bool>>,
    /// One bcrypt at a time.
    gate: tokio::sync::Semaphore,
}

impl AuthCache {
    fn answers(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], bool>> {
        self.answers.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn clear(&self) {
        self.answers().clear();
    }

    /// Whether `password` is `user`'s, given the users in force.
    pub async fn verify(
        &self,
        users: &std::collections::BTreeMap<String, String>,
        user: &str,
        password: &str,
    ) -> bool {
        let known = users.get(user);
        let hash = known.cloned().unwrap_or_else(|| dummy_hash().to_string());
        let key: [u8; 32] = {
            let mut d = Sha256::new();
            for part in [user.as_bytes(), hash.as_bytes(), password.as_bytes()] {
                d.update((part.len() as u64).to_le_bytes());
                d.update(part);
            }
            d.finalize().into()
        };
        if let Some(&ok) = self.answers().get(&key) {
            return ok && known.is_some();
        }
        let ok = {
            let _turn = match self.gate.acquire().await {
                Ok(p) => p,
                Err(_) => return false,
            };
            let password = password.to_string();
            tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
                .await
                .unwrap_or(false)
        };
        let mut answers = self.answers();
        if answers.len() >= CACHE_ENTRIES {
            answers.clear();
        }
        answers.insert(key, ok);
        ok && known.is_some()
    }
}

impl Default for AuthCache {
    fn default() -> Self {
        AuthCache {
            answers: Mutex::default(),
            gate: tokio::sync::Semaphore::new(1),
        }
    }
}

/// A hash that no password given by a client is checked against successfully in practice,
/// made once at the cost most deployments use.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        bcrypt::hash(b"fluxprobe: no such user", 10).unwrap_or_else(|_| {
            "$2b$10$invalidinvalidinvalidinuEBnR2ZsK4dIK3jMSbCkC6qGvh.8qu".to_string()
        })
    })
}

/// The user and password of an `Authorization: Basic` header.
fn credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Basic realm=\"fluxprobe\"")],
        "Unauthorized\n",
    )
        .into_response()
}

/// Middleware: checks basic auth when users are configured, adds the configured headers.
pub async fn layer(State(web): State<Arc<WebState>>, req: Request, next: Next) -> Response {
    let config = web.current();
    let mut resp = if config.users.is_empty() {
        next.run(req).await
    } else {
        match credentials(req.headers()) {
            Some((user, password)) if web.auth.verify(&config.users, &user, &password).await => {
                next.run(req).await
            }
            _ => unauthorized(),
        }
    };
    for (name, value) in &config.headers {
        resp.headers_mut().insert(name.clone(), value.clone());
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use std::collections::BTreeMap;

    fn basic(user: &str, password: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        let v = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {v}")).unwrap(),
        );
        h
    }

    #[test]
    fn credentials_are_read_from_basic_headers_only() {
        assert_eq!(
            credentials(&basic("alice", "a:b c")),
            Some(("alice".into(), "a:b c".into()))
        );
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc"),
        );
        assert_eq!(credentials(&h), None);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic !!!"));
        assert_eq!(credentials(&h), None);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic YWxpY2U="),
        );
        assert_eq!(credentials(&h), None, "no colon: no password");
        assert_eq!(credentials(&HeaderMap::new()), None);
    }

    #[tokio::test]
    async fn verifies_against_bcrypt_and_remembers_the_answer() {
        let users: BTreeMap<String, String> =
            [("alice".to_string(), bcrypt::hash("s3cret", 4).unwrap())].into();
        let cache = AuthCache::default();
        assert!(cache.verify(&users, "alice", "s3cret").await);
        assert!(!cache.verify(&users, "alice", "wrong").await);
        assert!(!cache.verify(&users, "bob", "s3cret").await);
        assert!(!cache.verify(&users, "alice", "").await);
        // Answered again from the cache, the same way.
        assert!(cache.verify(&users, "alice", "s3cret").await);
        assert!(!cache.verify(&users, "alice", "wrong").await);
        assert_eq!(cache.answers().len(), 4);
        // A new hash for alice: the old password's cached answer does not apply.
        let users2: BTreeMap<String, String> =
            [("alice".to_string(), bcrypt::hash("other", 4).unwrap())].into();
        assert!(!cache.verify(&users2, "alice", "s3cret").await);
        assert!(cache.verify(&users2, "alice", "other").await);
        // Nothing in the cache holds the password in clear.
        let keys = format!("{:?}", cache.answers().keys().collect::<Vec<_>>());
        assert!(!keys.contains("s3cret"));
    }
}
