//! GitHub App permissions that a scoped user token may carry, with the levels each accepts.
//!
//! The table is the `app-permissions` schema of GitHub's OpenAPI description for Enterprise
//! Server 3.19, plus `team_discussions` and `content_references`, which the 3.x "OAuth Apps"
//! page still lists for `POST /applications/{client_id}/token/scoped`.

const PERMISSIONS: &[(&str, &[&str])] = &[
    ("actions", &["read", "write"]),
    ("administration", &["read", "write"]),
    ("artifact_metadata", &["read", "write"]),
    ("attestations", &["read", "write"]),
    ("checks", &["read", "write"]),
    ("code_quality", &["read", "write"]),
    ("codespaces", &["read", "write"]),
    ("contents", &["read", "write"]),
    ("dependabot_secrets", &["read", "write"]),
    ("deployments", &["read", "write"]),
    ("discussions", &["read", "write"]),
    ("environments", &["read", "write"]),
    ("issues", &["read", "write"]),
    ("merge_queues", &["read", "write"]),
    ("metadata", &["read", "write"]),
    ("packages", &["read", "write"]),
    ("pages", &["read", "write"]),
    ("pull_requests", &["read", "write"]),
    ("repository_custom_properties", &["read", "write"]),
    ("repository_hooks", &["read", "write"]),
    ("repository_projects", &["read", "write", "admin"]),
    ("secret_scanning_alerts", &["read", "write"]),
    ("secrets", &["read", "write"]),
    ("security_events", &["read", "write"]),
    ("single_file", &["read", "write"]),
    ("statuses", &["read", "write"]),
    ("vulnerability_alerts", &["read", "write"]),
    ("workflows", &["write"]),
    ("members", &["read", "write"]),
    ("organization_administration", &["read", "write"]),
    ("organization_custom_roles", &["read", "write"]),
    ("organization_custom_org_roles", &["read", "write"]),
    (
        "organization_custom_properties",
        &["read", "write", "admin"],
    ),
    ("organization_copilot_seat_management", &["read", "write"]),
    ("organization_copilot_agent_settings", &["read", "write"]),
    ("organization_announcement_banners", &["read", "write"]),
    ("organization_events", &["read"]),
    ("organization_hooks", &["read", "write"]),
    ("organization_personal_access_tokens", &["read", "write"]),
    (
        "organization_personal_access_token_requests",
        &["read", "write"],
    ),
    ("organization_plan", &["read"]),
    ("organization_projects", &["read", "write", "admin"]),
    ("organization_packages", &["read", "write"]),
    ("organization_secrets", &["read", "write"]),
    ("organization_self_hosted_runners", &["read", "write"]),
    ("organization_user_blocking", &["read", "write"]),
    ("email_addresses", &["read", "write"]),
    ("followers", &["read", "write"]),
    ("git_ssh_keys", &["read", "write"]),
    ("gpg_keys", &["read", "write"]),
    ("interaction_limits", &["read", "write"]),
    ("profile", &["write"]),
    ("starring", &["read", "write"]),
    ("enterprise_administration", &["read", "write"]),
    ("enterprise_custom_properties", &["read", "write"]),
    ("enterprise_organization_installations", &["read", "write"]),
    (
        "enterprise_organization_installation_repositories",
        &["read", "write"],
    ),
    ("team_discussions", &["read", "write"]),
    ("content_references", &["read", "write"]),
];

/// Every permission name with its accepted levels, for tests and documentation.
pub fn table() -> &'static [(&'static str, &'static [&'static str])] {
    PERMISSIONS
}

/// Why one permission entry was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PermissionError {
    UnknownPermission(String),
    BadLevel {
        permission: String,
        level: String,
        allowed: &'static [&'static str],
    },
}

/// Permissions granted to a scoped token, in the order requested.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permissions(Vec<(String, String)>);

impl Permissions {
    /// Checks every name and level against GitHub's table. A name given twice keeps its last
    /// level, as a JSON object would.
    pub fn parse(requested: Vec<(String, String)>) -> Result<Self, PermissionError> {
        let mut kept: Vec<(String, String)> = Vec::with_capacity(requested.len());
        for (name, level) in requested {
            let Some((_, allowed)) = PERMISSIONS.iter().find(|(n, _)| *n == name) else {
                return Err(PermissionError::UnknownPermission(name));
            };
            if !allowed.contains(&level.as_str()) {
                return Err(PermissionError::BadLevel {
                    permission: name,
                    level,
                    allowed,
                });
            }
            kept.retain(|(n, _)| *n != name);
            kept.push((name, level));
        }
        Ok(Self(kept))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, l)| (n.as_str(), l.as_str()))
    }

    pub fn level(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, l)| l.as_str())
    }

    /// Rebuilds permissions that were validated when stored.
    pub fn from_stored(pairs: Vec<(String, String)>) -> Self {
        Self(pairs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn every_permission_accepts_exactly_its_levels() {
        for (name, allowed) in PERMISSIONS {
            for level in ["read", "write", "admin"] {
                let result = Permissions::parse(pairs(&[(name, level)]));
                assert_eq!(result.is_ok(), allowed.contains(&level), "{name}: {level}");
            }
        }
    }

    #[test]
    fn unknown_names_and_levels_are_refused() {
        assert_eq!(
            Permissions::parse(pairs(&[("contents", "read"), ("bogus", "read")])),
            Err(PermissionError::UnknownPermission("bogus".into()))
        );
        assert!(matches!(
            Permissions::parse(pairs(&[("workflows", "read")])),
            Err(PermissionError::BadLevel { .. })
        ));
        assert!(matches!(
            Permissions::parse(pairs(&[("contents", "Read")])),
            Err(PermissionError::BadLevel { .. })
        ));
    }

    #[test]
    fn order_is_kept_and_repeats_keep_the_last_level() {
        let parsed = Permissions::parse(pairs(&[
            ("issues", "write"),
            ("contents", "read"),
            ("issues", "read"),
        ]))
        .unwrap();
        assert_eq!(
            parsed.iter().collect::<Vec<_>>(),
            [("contents", "read"), ("issues", "read")]
        );
        assert_eq!(parsed.level("issues"), Some("read"));
    }
}
