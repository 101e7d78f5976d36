//! `documentation_url` values, one per operation, as GitHub Enterprise Server 3.19 links them.

pub const REST: &str = "https://docs.github.com/enterprise-server@3.19/rest";

macro_rules! oauth_authorizations {
    ($($name:ident = $anchor:literal;)*) => {
        $(pub const $name: &str = concat!(
            "https://docs.github.com/enterprise-server@3.19/rest/oauth-authorizations/oauth-authorizations#", $anchor);)*
    };
}

oauth_authorizations! {
    LIST_GRANTS = "list-your-grants";
    GET_GRANT = "get-a-single-grant";
    DELETE_GRANT = "delete-a-grant";
    LIST_AUTHORIZATIONS = "list-your-authorizations";
    CREATE_AUTHORIZATION = "create-a-new-authorization";
    GET_OR_CREATE_AUTHORIZATION_FOR_APP = "get-or-create-an-authorization-for-a-specific-app";
    GET_OR_CREATE_AUTHORIZATION_FOR_APP_AND_FINGERPRINT = "get-or-create-an-authorization-for-a-specific-app-and-fingerprint";
    GET_AUTHORIZATION = "get-a-single-authorization";
    UPDATE_AUTHORIZATION = "update-an-existing-authorization";
    DELETE_AUTHORIZATION = "delete-an-authorization";
}

/// Where a personal access token's `app.url` points when it has no `note_url`, as in the
/// example of GitHub's "List your authorizations".
pub const PERSONAL_ACCESS_TOKENS: &str =
    "https://docs.github.com/enterprise/rest/enterprise-admin/users#list-personal-access-tokens";

macro_rules! oauth_applications {
    ($($name:ident = $anchor:literal;)*) => {
        $(pub const $name: &str = concat!(
            "https://docs.github.com/enterprise-server@3.19/rest/apps/oauth-applications#", $anchor);)*
    };
}

oauth_applications! {
    DELETE_APP_AUTHORIZATION = "delete-an-app-authorization";
    CHECK_TOKEN = "check-a-token";
    RESET_TOKEN = "reset-a-token";
    DELETE_TOKEN = "delete-an-app-token";
}

pub const SCOPE_TOKEN: &str =
    "https://docs.github.com/enterprise-server@3.19/rest/apps/apps#create-a-scoped-access-token";

pub const RATE_LIMITS: &str = "https://docs.github.com/enterprise-server@3.19/rest/using-the-rest-api/rate-limits-for-the-rest-api";

pub const AUTHORIZATIONS_API_DEPRECATION: &str =
    "https://developer.github.com/changes/2020-02-14-deprecating-oauth-auth-endpoint/";

/// Every error of the GraphQL endpoint links here, as GitHub's do.
pub const GRAPHQL: &str = "https://docs.github.com/graphql";

pub const META: &str = "https://docs.github.com/enterprise-server@3.19/rest/meta/meta";
pub const GET_USER: &str =
    "https://docs.github.com/enterprise-server@3.19/rest/users/users#get-a-user";
pub const LIST_EMAILS: &str = "https://docs.github.com/enterprise-server@3.19/rest/users/emails#list-email-addresses-for-the-authenticated-user";
pub const RATE_LIMIT: &str = "https://docs.github.com/enterprise-server@3.19/rest/rate-limit/rate-limit#get-rate-limit-status-for-the-authenticated-user";
pub const GET_AUDIT_LOG: &str = "https://docs.github.com/enterprise-server@3.19/rest/enterprise-admin/audit-log#get-the-audit-log-for-an-enterprise";
pub const SUSPEND_USER: &str =
    "https://docs.github.com/enterprise-server@3.19/rest/enterprise-admin/users#suspend-a-user";
pub const CREATE_USER: &str =
    "https://docs.github.com/enterprise-server@3.19/rest/enterprise-admin/users#create-a-user";
pub const DELETE_USER: &str =
    "https://docs.github.com/enterprise-server@3.19/rest/enterprise-admin/users#delete-a-user";
pub const CREATE_IMPERSONATION_TOKEN: &str = "https://docs.github.com/enterprise-server@3.19/rest/enterprise-admin/users#create-an-impersonation-oauth-token";
pub const DELETE_IMPERSONATION_TOKEN: &str = "https://docs.github.com/enterprise-server@3.19/rest/enterprise-admin/users#delete-an-impersonation-oauth-token";
pub const UNSUSPEND_USER: &str =
    "https://docs.github.com/enterprise-server@3.19/rest/enterprise-admin/users#unsuspend-a-user";
