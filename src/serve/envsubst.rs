//! `${NAME}` expansion of configuration values from the environment, so secrets (bearer tokens,
//! passwords in URLs) stay out of the file. `$${` writes a literal `${`. A variable that is not
//! set is an error naming the variable — its value, when there is one, is never printed.

/// Why a value could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    #[error("environment variable {name} is not set")]
    Missing {
        name: String,
        /// Character offset of the `${` in the value.
        offset: usize,
    },
    #[error("malformed ${{…}} reference: {reason}")]
    Malformed { reason: String, offset: usize },
}

impl EnvError {
    /// Character offset of the faulty reference within the value.
    pub fn offset(&self) -> usize {
        match self {
            EnvError::Missing { offset, .. } | EnvError::Malformed { offset, .. } => *offset,
        }
    }
}

/// Expands every `${NAME}` in `value` with `lookup(NAME)`.
pub fn expand(value: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, EnvError> {
    let chars: Vec<char> = value.chars().collect();
    let mut out = String::with_capacity(value.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '$' && chars.get(i + 1) == Some(&'$') && chars.get(i + 2) == Some(&'{') {
            out.push_str("${");
            i += 3;
            continue;
        }
        if c == '$' && chars.get(i + 1) == Some(&'{') {
            let start = i;
            let Some(close) = chars[i + 2..].iter().position(|&c| c == '}') else {
                return Err(EnvError::Malformed {
                    reason: "no closing '}'".to_string(),
                    offset: start,
                });
            };
            let name: String = chars[i + 2..i + 2 + close].iter().collect();
            if !is_env_name(&name) {
                return Err(EnvError::Malformed {
                    reason: format!(
                        "{name:?} is not a variable name (letters, digits and '_', not starting with a digit)"
                    ),
                    offset: start,
                });
            }
            match lookup(&name) {
                Some(v) => out.push_str(&v),
                None => {
                    return Err(EnvError::Missing {
                        name,
                        offset: start,
                    });
                }
            }
            i += 2 + close + 1;
            continue;
        }
        out.push(c);
        i += 1;
    }
    Ok(out)
}

/// True when the value has at least one `${…}` reference (it then holds a secret from the
/// environment).
pub fn has_reference(value: &str) -> bool {
    value.replace("$${", "").contains("${")
}

fn is_env_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The process environment as a lookup.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "TOKEN" => Some("s3cret".to_string()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expands_references_and_escapes() {
        assert_eq!(expand("Bearer ${TOKEN}", &env).unwrap(), "Bearer s3cret");
        assert_eq!(expand("a${EMPTY}b", &env).unwrap(), "ab");
        assert_eq!(expand("$${TOKEN}", &env).unwrap(), "${TOKEN}");
        assert_eq!(expand("cost $5", &env).unwrap(), "cost $5");
        assert_eq!(expand("${TOKEN}${TOKEN}", &env).unwrap(), "s3crets3cret");
        assert!(has_reference("x ${A}"));
        assert!(!has_reference("x $${A}"));
    }

    #[test]
    fn missing_and_malformed_references_name_the_problem_not_a_value() {
        let e = expand("Bearer ${NOPE}", &env).unwrap_err();
        assert_eq!(
            e,
            EnvError::Missing {
                name: "NOPE".to_string(),
                offset: 7
            }
        );
        assert_eq!(e.to_string(), "environment variable NOPE is not set");
        assert!(matches!(
            expand("${TOKEN", &env),
            Err(EnvError::Malformed { offset: 0, .. })
        ));
        assert!(matches!(
            expand("x ${1A}", &env),
            Err(EnvError::Malformed { offset: 2, .. })
        ));
        // A later missing variable must not leak the earlier expanded secret.
        let e = expand("${TOKEN}:${NOPE}", &env).unwrap_err();
        assert!(!e.to_string().contains("s3cret"));
    }
}
