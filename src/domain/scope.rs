//! GitHub's classic OAuth scopes: which names exist, which imply which, and how a requested
//! list is normalised ("Scopes for OAuth apps" in GitHub's docs).
//!
//! GitHub drops a scope that another requested scope already grants, so `user, gist,
//! user:email` is stored as `user, gist`. Order is otherwise kept: clients compare lists.

/// Every scope name grantd accepts, with the scopes each one directly implies.
/// GitHub Enterprise Server adds `site_admin`, `admin:pre_receive_hook` and (in its docs'
/// examples) `admin:business` to the public list.
const SCOPES: &[(&str, &[&str])] = &[
    (
        "repo",
        &[
            "repo:status",
            "repo_deployment",
            "public_repo",
            "repo:invite",
            "security_events",
        ],
    ),
    ("repo:status", &[]),
    ("repo_deployment", &[]),
    ("public_repo", &[]),
    ("repo:invite", &[]),
    ("security_events", &[]),
    ("admin:repo_hook", &["write:repo_hook"]),
    ("write:repo_hook", &["read:repo_hook"]),
    ("read:repo_hook", &[]),
    ("admin:org", &["write:org", "manage_runners:org"]),
    ("write:org", &["read:org"]),
    ("read:org", &[]),
    ("manage_runners:org", &[]),
    ("admin:public_key", &["write:public_key"]),
    ("write:public_key", &["read:public_key"]),
    ("read:public_key", &[]),
    ("admin:org_hook", &[]),
    ("gist", &[]),
    ("notifications", &[]),
    ("user", &["read:user", "user:email", "user:follow"]),
    ("read:user", &[]),
    ("user:email", &[]),
    ("user:follow", &[]),
    ("project", &["read:project"]),
    ("read:project", &[]),
    ("delete_repo", &[]),
    ("write:packages", &["read:packages"]),
    ("read:packages", &[]),
    ("delete:packages", &[]),
    ("admin:gpg_key", &["write:gpg_key"]),
    ("write:gpg_key", &["read:gpg_key"]),
    ("read:gpg_key", &[]),
    ("admin:ssh_signing_key", &["write:ssh_signing_key"]),
    ("write:ssh_signing_key", &["read:ssh_signing_key"]),
    ("read:ssh_signing_key", &[]),
    ("codespace", &["codespace:secrets"]),
    ("codespace:secrets", &[]),
    ("workflow", &[]),
    ("write:discussion", &["read:discussion"]),
    ("read:discussion", &[]),
    (
        "admin:enterprise",
        &[
            "manage_runners:enterprise",
            "manage_billing:enterprise",
            "read:enterprise",
        ],
    ),
    ("manage_runners:enterprise", &[]),
    ("manage_billing:enterprise", &[]),
    ("read:enterprise", &[]),
    ("audit_log", &["read:audit_log"]),
    ("read:audit_log", &[]),
    ("copilot", &["manage_billing:copilot"]),
    ("manage_billing:copilot", &[]),
    ("site_admin", &[]),
    ("admin:pre_receive_hook", &[]),
    ("admin:business", &[]),
];

/// Every scope name grantd accepts (for its OpenAPI description).
pub fn names() -> impl Iterator<Item = &'static str> {
    SCOPES.iter().map(|(name, _)| *name)
}

/// The scopes as GitHub's "New personal access token (classic)" page groups them: each scope
/// no other implies, with every scope it implies (directly or through a chain) beneath it.
pub fn groups() -> Vec<(&'static str, Vec<&'static str>)> {
    SCOPES
        .iter()
        .filter(|(name, _)| !SCOPES.iter().any(|(other, _)| implies(other, name)))
        .map(|(name, _)| {
            let children = SCOPES
                .iter()
                .filter(|(child, _)| implies(name, child))
                .map(|(child, _)| *child)
                .collect();
            (*name, children)
        })
        .collect()
}

/// Whether `name` is a scope GitHub knows.
pub fn is_known(name: &str) -> bool {
    index_of(name).is_some()
}

fn index_of(name: &str) -> Option<usize> {
    SCOPES.iter().position(|(scope, _)| *scope == name)
}

/// At most this many unknown names are reported in a 422: enough to correct a request, and
/// an answer's size stays bounded whatever was sent.
const MAX_REPORTED: usize = 10;

/// Whether holding `parent` grants `child`, directly or through a chain
/// (`admin:org` → `write:org` → `read:org`).
fn implies(parent: &str, child: &str) -> bool {
    SCOPES
        .iter()
        .find(|(scope, _)| *scope == parent)
        .is_some_and(|(_, direct)| direct.iter().any(|d| *d == child || implies(d, child)))
}

/// A normalised list of known scopes: no duplicates, nothing implied by another member.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scopes(Vec<String>);

impl Scopes {
    /// Validates and normalises a requested list. Returns the unknown names on failure (each
    /// once, in the order first sent).
    ///
    /// Linear in the list's length: a request may send hundreds of thousands of names (up to
    /// the body limit), and this runs on the request's worker.
    pub fn parse<I, S>(requested: I) -> Result<Self, Vec<String>>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut known = Vec::new();
        let mut unknown: Vec<String> = Vec::new();
        for name in requested {
            let name = name.as_ref();
            match index_of(name) {
                Some(index) => known.push(index),
                None if !unknown.iter().any(|u| u == name) && unknown.len() < MAX_REPORTED => {
                    unknown.push(name.to_owned());
                }
                None => {}
            }
        }
        if unknown.is_empty() {
            Ok(Self::normalise(known))
        } else {
            Err(unknown)
        }
    }

    /// Keeps the first of each scope, in order, unless another listed scope implies it. The
    /// distinct scopes are at most the ~60 GitHub knows, so after the one pass that removes
    /// duplicates the implication check is bounded whatever the list's length.
    fn normalise(requested: impl IntoIterator<Item = usize>) -> Self {
        let mut seen = [false; SCOPES.len()];
        let mut distinct = Vec::new();
        for index in requested {
            if !std::mem::replace(&mut seen[index], true) {
                distinct.push(index);
            }
        }
        let kept = distinct
            .iter()
            .filter(|&&scope| {
                !distinct
                    .iter()
                    .any(|&other| other != scope && implies(SCOPES[other].0, SCOPES[scope].0))
            })
            .map(|&scope| SCOPES[scope].0.to_owned())
            .collect();
        Self(kept)
    }

    /// The positions in [`SCOPES`] of this list's names (all known, by construction).
    fn indexes(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().filter_map(|name| index_of(name))
    }

    /// `add_scopes`: appends in the order given, then normalises.
    #[must_use]
    pub fn with_added(&self, added: &Self) -> Self {
        Self::normalise(self.indexes().chain(added.indexes()))
    }

    /// `remove_scopes`: removes exactly the scopes named.
    #[must_use]
    pub fn without(&self, removed: &Self) -> Self {
        Self(
            self.0
                .iter()
                .filter(|s| !removed.0.contains(s))
                .cloned()
                .collect(),
        )
    }

    /// The union of several lists, normalised, in first-seen order (a grant's scopes).
    pub fn union<'a>(lists: impl IntoIterator<Item = &'a Self>) -> Self {
        Self::normalise(lists.into_iter().flat_map(Self::indexes))
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    /// Whether these scopes grant `needed`, held directly or implied by a broader one (`user`
    /// grants `user:email`).
    pub fn grants(&self, needed: &str) -> bool {
        self.0
            .iter()
            .any(|held| held == needed || implies(held, needed))
    }

    /// The stored form: names joined by single spaces (no scope name contains one).
    pub fn to_stored(&self) -> String {
        self.0.join(" ")
    }

    /// Reads the stored form back.
    pub fn from_stored_text(text: &str) -> Self {
        Self(text.split_whitespace().map(str::to_owned).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_grants_itself_and_what_it_implies() {
        let held = Scopes::parse(["user", "admin:org"]).unwrap();
        for granted in ["user", "user:email", "read:user", "write:org", "read:org"] {
            assert!(held.grants(granted), "{granted}");
        }
        for refused in ["repo", "gist", "admin:public_key"] {
            assert!(!held.grants(refused), "{refused}");
        }
        assert!(!Scopes::default().grants("user:email"));
    }

    fn names(scopes: &Scopes) -> Vec<&str> {
        scopes.as_slice().iter().map(String::as_str).collect()
    }

    #[test]
    fn implied_scopes_are_dropped_and_order_kept() {
        let scopes = Scopes::parse(["user", "gist", "user:email"]).unwrap();
        assert_eq!(names(&scopes), ["user", "gist"]);
        let scopes = Scopes::parse(["user:email", "repo", "user"]).unwrap();
        assert_eq!(names(&scopes), ["repo", "user"]);
    }

    #[test]
    fn implication_is_transitive() {
        let scopes = Scopes::parse(["read:org", "admin:org"]).unwrap();
        assert_eq!(names(&scopes), ["admin:org"]);
        let scopes = Scopes::parse(["read:gpg_key", "write:gpg_key"]).unwrap();
        assert_eq!(names(&scopes), ["write:gpg_key"]);
    }

    #[test]
    fn duplicates_collapse() {
        assert_eq!(names(&Scopes::parse(["repo", "repo"]).unwrap()), ["repo"]);
    }

    #[test]
    fn unknown_scopes_are_reported() {
        assert_eq!(
            Scopes::parse(["repo", "bogus", "Repo", "bogus"]),
            Err(vec!["bogus".into(), "Repo".into()])
        );
        // However many are sent, the report stays short.
        let many: Vec<String> = (0..10_000).map(|i| format!("nope{i}")).collect();
        assert_eq!(Scopes::parse(&many).unwrap_err().len(), MAX_REPORTED);
    }

    /// A list as long as a 1 MiB body allows (hostile or not) normalises like a short one.
    #[test]
    fn long_lists_normalise_like_short_ones() {
        let mut many = vec!["user:email"; 150_000];
        many.extend(std::iter::repeat_n("repo", 150_000));
        many.push("user");
        assert_eq!(names(&Scopes::parse(&many).unwrap()), ["repo", "user"]);
    }

    #[test]
    fn every_implied_scope_is_itself_known() {
        for (scope, direct) in SCOPES {
            for child in *direct {
                assert!(is_known(child), "{scope} implies unknown {child}");
            }
        }
    }

    #[test]
    fn add_appends_then_normalises_and_remove_is_exact() {
        let base = Scopes::parse(["user:email", "gist"]).unwrap();
        let added = base.with_added(&Scopes::parse(["repo", "user"]).unwrap());
        assert_eq!(names(&added), ["gist", "repo", "user"]);
        let removed = added.without(&Scopes::parse(["gist", "notifications"]).unwrap());
        assert_eq!(names(&removed), ["repo", "user"]);
    }

    #[test]
    fn union_is_normalised() {
        let a = Scopes::parse(["repo"]).unwrap();
        let b = Scopes::parse(["user", "public_repo"]).unwrap();
        assert_eq!(names(&Scopes::union([&a, &b])), ["repo", "user"]);
    }

    #[test]
    fn stored_form_round_trips() {
        let scopes = Scopes::parse(["repo", "admin:org"]).unwrap();
        assert_eq!(Scopes::from_stored_text(&scopes.to_stored()), scopes);
        assert_eq!(Scopes::from_stored_text(""), Scopes::default());
    }
}

/// Fuzzing (issue 18): any list of names, known or not, normalises to a list with GitHub's
/// invariants, and the set operations keep them.
#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::*;

    /// A requested name: mostly known scopes (so lists normalise), sometimes a near miss.
    fn name() -> impl Strategy<Value = String> {
        let known: Vec<&str> = names().collect();
        prop_oneof![
            8 => prop::sample::select(known.clone()).prop_map(str::to_owned),
            1 => prop::sample::select(known).prop_map(str::to_ascii_uppercase),
            1 => "[a-z_:]{0,12}",
            1 => ".{0,6}",
        ]
    }

    fn known_list() -> impl Strategy<Value = Vec<String>> {
        let known: Vec<&str> = names().collect();
        prop::collection::vec(prop::sample::select(known).prop_map(str::to_owned), 0..24)
    }

    fn scopes() -> impl Strategy<Value = Scopes> {
        known_list().prop_map(|list| Scopes::parse(&list).unwrap())
    }

    /// GitHub's invariants of a normalised list.
    fn assert_normalised(scopes: &Scopes) -> Result<(), TestCaseError> {
        let list = scopes.as_slice();
        for (i, a) in list.iter().enumerate() {
            prop_assert!(is_known(a), "{} unknown", a);
            for (j, b) in list.iter().enumerate() {
                if i != j {
                    prop_assert_ne!(a, b, "duplicate in {:?}", list);
                    prop_assert!(!implies(a, b), "{} implies {} in {:?}", a, b, list);
                }
            }
        }
        prop_assert_eq!(&Scopes::parse(list), &Ok(scopes.clone()), "not idempotent");
        prop_assert_eq!(&Scopes::from_stored_text(&scopes.to_stored()), scopes);
        Ok(())
    }

    proptest! {
        #[test]
        fn any_list_parses_to_githubs_normal_form_or_names_the_unknown(
            requested in prop::collection::vec(name(), 0..32),
        ) {
            match Scopes::parse(&requested) {
                Ok(scopes) => {
                    assert_normalised(&scopes)?;
                    let list = scopes.as_slice();
                    // Nothing invented, nothing lost: each member was requested, and each
                    // requested name is a member or implied by one.
                    for member in list {
                        prop_assert!(requested.contains(member));
                    }
                    for asked in &requested {
                        prop_assert!(list.contains(asked) || list.iter().any(|m| implies(m, asked)));
                    }
                    // Members keep the order in which they were first requested.
                    let first = |m: &String| requested.iter().position(|r| r == m);
                    prop_assert!(list.windows(2).all(|w| first(&w[0]) < first(&w[1])));
                }
                Err(unknown) => {
                    prop_assert!(!unknown.is_empty() && unknown.len() <= MAX_REPORTED);
                    let mut expected: Vec<String> = Vec::new();
                    for asked in &requested {
                        if !is_known(asked) && !expected.contains(asked) {
                            expected.push(asked.clone());
                        }
                    }
                    expected.truncate(MAX_REPORTED);
                    prop_assert_eq!(unknown, expected);
                }
            }
        }

        #[test]
        fn adding_removing_and_uniting_keep_the_normal_form(
            a in scopes(),
            b in scopes(),
            c in scopes(),
        ) {
            let added = a.with_added(&b);
            assert_normalised(&added)?;
            let appended: Vec<&String> = a.as_slice().iter().chain(b.as_slice()).collect();
            prop_assert_eq!(&Ok(added.clone()), &Scopes::parse(appended));

            let removed = a.without(&b);
            assert_normalised(&removed)?;
            prop_assert!(removed.as_slice().iter().all(|s| a.as_slice().contains(s)));
            prop_assert!(removed.as_slice().iter().all(|s| !b.as_slice().contains(s)));

            let union = Scopes::union([&a, &b, &c]);
            assert_normalised(&union)?;
            let all: Vec<&String> = [&a, &b, &c].iter().flat_map(|s| s.as_slice()).collect();
            prop_assert_eq!(&Ok(union), &Scopes::parse(all));
        }
    }

    #[test]
    fn groups_hold_every_scope_once_under_its_broadest_parent() {
        let groups = groups();
        let mut seen: Vec<&str> = Vec::new();
        for (top, children) in &groups {
            seen.push(top);
            seen.extend(children.iter().copied());
        }
        assert_eq!(seen.len(), names().count());
        let admin_org = groups.iter().find(|(top, _)| *top == "admin:org").unwrap();
        assert_eq!(admin_org.1, ["write:org", "read:org", "manage_runners:org"]);
        assert!(!groups.iter().any(|(top, _)| *top == "read:org"));
    }
}
