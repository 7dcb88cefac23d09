//! Which names can become NixOS attribute names, systemd unit names, host names and container
//! names at once.

/// Longest name accepted: the limit of a host name label.
pub const MAX_NAME_LEN: usize = 63;

/// Why `name` cannot be used for a node, or `None` when it can.
///
/// A name is lowercase ASCII letters, digits and `-`, starts with a letter, does not end with
/// `-` and has at most [`MAX_NAME_LEN`] characters. That set is safe unquoted in Nix attribute
/// paths, as a systemd unit name, a DNS label and an `nixos-container` name.
pub fn name_problem(name: &str) -> Option<&'static str> {
    let Some(first) = name.chars().next() else {
        return Some("it is empty");
    };
    if name.len() > MAX_NAME_LEN {
        return Some("it is longer than 63 characters");
    }
    if !first.is_ascii_lowercase() {
        return Some("it must start with a lowercase letter");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Some("only lowercase letters, digits and `-` are allowed");
    }
    if name.ends_with('-') {
        return Some("it must not end with `-`");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::name_problem;

    #[test]
    fn accepts_plain_names_and_rejects_what_nix_or_systemd_cannot_take() {
        assert_eq!(name_problem("web-1"), None);
        assert_eq!(name_problem("a"), None);
        assert!(name_problem("").is_some());
        assert!(name_problem("1web").is_some());
        assert!(name_problem("Web").is_some());
        assert!(name_problem("web_1").is_some());
        assert!(name_problem("web.1").is_some());
        assert!(name_problem("web-").is_some());
        assert!(name_problem("we b").is_some());
        assert!(name_problem(&"a".repeat(64)).is_some());
        assert_eq!(name_problem(&"a".repeat(63)), None);
    }
}
