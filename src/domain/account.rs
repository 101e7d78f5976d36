//! Accounts (users and organizations, which share GitHub's namespace of logins and ids) and
//! repositories: what a scoped token's `target` and `repositories` refer to.

use super::permission::Permissions;
use super::{Login, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountType {
    User,
    Organization,
}

impl AccountType {
    /// GitHub's `type` field.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::User => "User",
            Self::Organization => "Organization",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "User" => Some(Self::User),
            "Organization" => Some(Self::Organization),
            _ => None,
        }
    }
}

/// A user or an organization, as GitHub's `simple-user` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: UserId,
    pub login: Login,
    pub kind: AccountType,
    pub site_admin: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepositoryId(pub i64);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    pub id: RepositoryId,
    pub owner_id: UserId,
    pub name: String,
}

/// Which of the target's repositories a scoped token reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepositorySelection {
    All,
    Selected(Vec<RepositoryId>),
}

impl RepositorySelection {
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Selected(_) => "selected",
        }
    }
}

/// What a repository- and permission-scoped token may reach. A token without one is an
/// ordinary user token, limited only by its OAuth scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenScope {
    pub target: Account,
    pub permissions: Permissions,
    pub repositories: RepositorySelection,
}

/// How a request names an account: by login or by id.
#[derive(Debug, Clone)]
pub enum AccountRef {
    Login(String),
    Id(i64),
}
