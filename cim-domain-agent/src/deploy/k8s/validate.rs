//! Kubernetes' own syntax rules for what the manifests carry from outside (tier names, node
//! selectors, tolerations, the image reference, the ConfigMap's size), checked before anything is
//! emitted so `kubectl apply` never refuses what this crate wrote. The rules are those of
//! `k8s.io/apimachinery/pkg/util/validation` (`IsValidLabelValue`, `IsQualifiedName`) and the
//! API server's limits (a ConfigMap's data at most 1 MiB).

/// Most bytes a ConfigMap's data may hold (`MaxSecretSize`/ConfigMap limit: 1 MiB).
pub const MAX_CONFIG_MAP_BYTES: usize = 1024 * 1024;

/// Longest image reference accepted, in bytes.
pub const MAX_IMAGE_LEN: usize = 4096;

/// A label value: at most 63 characters, empty or starting and ending with an ASCII letter or
/// digit, with `-`, `_` and `.` allowed between (`IsValidLabelValue`).
pub fn label_value_problem(value: &str) -> Option<&'static str> {
    if value.len() > 63 {
        return Some("a label value has at most 63 characters");
    }
    if value.is_empty() {
        return None;
    }
    let inner_ok = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    let ends_ok = value.starts_with(|c: char| c.is_ascii_alphanumeric())
        && value.ends_with(|c: char| c.is_ascii_alphanumeric());
    (!(inner_ok && ends_ok)).then_some(
        "a label value is letters, digits, '-', '_' and '.', starting and ending with a letter or digit",
    )
}

/// A qualified name (label and taint keys): an optional DNS subdomain prefix of at most 253
/// characters and `/`, then a name of 1 to 63 characters with the label value's character rules
/// (`IsQualifiedName`).
pub fn qualified_name_problem(key: &str) -> Option<&'static str> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        let subdomain_ok = !prefix.is_empty()
            && prefix.len() <= 253
            && prefix.split('.').all(|label| {
                !label.is_empty()
                    && label
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            });
        if !subdomain_ok {
            return Some("the prefix before '/' must be a lowercase DNS subdomain");
        }
    }
    if name.is_empty() {
        return Some("a key's name part must not be empty");
    }
    label_value_problem(name)
}

/// An image reference: non-empty, at most [`MAX_IMAGE_LEN`] bytes, only the characters the
/// reference grammar uses (`[registry[:port]/]path[:tag][@digest]`): ASCII letters, digits,
/// `.`, `_`, `-`, `/`, `:` and `@`.
pub fn image_problem(image: &str) -> Option<&'static str> {
    if image.is_empty() || image.len() > MAX_IMAGE_LEN {
        return Some("an image reference is 1 to 4096 characters");
    }
    let chars_ok = image
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/' | ':' | '@'));
    (!chars_ok).then_some(
        "an image reference has only letters, digits and . _ - / : @ (no spaces or newlines)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_follow_kubernetes() {
        for good in ["", "gpu", "a.b_c-d", "A1", &"x".repeat(63)] {
            assert_eq!(label_value_problem(good), None, "{good}");
        }
        for bad in ["-a", "a-", "a b", "a/b", "a\nb", &"x".repeat(64), "é"] {
            assert!(label_value_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn qualified_names_follow_kubernetes() {
        for good in [
            "gpu",
            "nvidia.com/gpu",
            "node-role.kubernetes.io/worker",
            "a_b.c",
        ] {
            assert_eq!(qualified_name_problem(good), None, "{good}");
        }
        for bad in ["", "/x", "Upper.Case/x", "a/", "a b", "x/y/z", "a\n"] {
            assert!(qualified_name_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn images_have_no_whitespace() {
        for good in [
            "ghcr.io/cim/leaf:1.0",
            "registry:5000/a/b@sha256:abc",
            "leaf",
        ] {
            assert_eq!(image_problem(good), None, "{good}");
        }
        for bad in ["", "a b", "leaf\nevil: x", "leaf\t", "a;b"] {
            assert!(image_problem(bad).is_some(), "{bad:?}");
        }
    }
}
