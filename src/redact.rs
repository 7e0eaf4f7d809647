//! Keeping secrets out of output: URLs lose their credentials and query, header values are
//! never printed.

use url::Url;

/// The placeholder written where a secret was.
pub const REDACTED: &str = "<redacted>";

/// A URL for display: user info and query values replaced by `<redacted>`.
pub fn url(u: &Url) -> String {
    let mut u = u.clone();
    if !u.username().is_empty() {
        let _ = u.set_username(REDACTED);
    }
    if u.password().is_some() {
        let _ = u.set_password(Some(REDACTED));
    }
    if u.query().is_some() {
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, _)| (k.into_owned(), REDACTED.to_string()))
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    // url re-encodes '<' and '>' in user info; show them plainly.
    u.to_string().replace("%3Credacted%3E", REDACTED)
}

/// A URL string for display; an unparseable string is shown only as `<redacted>`.
pub fn url_str(s: &str) -> String {
    Url::parse(s)
        .map(|u| url(&u))
        .unwrap_or_else(|_| REDACTED.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_and_query_values_are_hidden() {
        let u = Url::parse("http://alice:s3cret@gpu-box:8000/flux?token=abc").unwrap();
        let shown = url(&u);
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(!shown.contains("abc"), "{shown}");
        assert!(!shown.contains("alice"), "{shown}");
        assert!(shown.contains("gpu-box:8000/flux"), "{shown}");
        assert_eq!(
            url(&Url::parse("http://localhost:8000").unwrap()),
            "http://localhost:8000/"
        );
        assert_eq!(url_str("not a url"), REDACTED);
    }
}
