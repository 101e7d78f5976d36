//! Absolute URIs as RFC 3986 defines them. GitHub's schemas declare `note_url` and app URLs
//! with `format: uri`, so grantd refuses anything else at input rather than store a value
//! that would make its own responses break GitHub's contract.
//!
//! Deliberately conservative: IP-literal hosts (`[…]`) are refused, which no note URL needs.

fn is_unreserved_or_sub_delim(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=".contains(&b)
}

/// Every byte is allowed somewhere in a URI, and every `%` starts a valid escape.
fn valid_characters(text: &str, extra: &[u8]) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let escape = bytes.get(i + 1..i + 3);
                if !escape.is_some_and(|e| e.iter().all(u8::is_ascii_hexdigit)) {
                    return false;
                }
                i += 3;
                continue;
            }
            b if is_unreserved_or_sub_delim(b) || extra.contains(&b) => {}
            _ => return false,
        }
        i += 1;
    }
    true
}

/// Whether `text` is an absolute URI: `scheme:` then an optional `//authority`, a path, and
/// an optional `?query` and `#fragment`.
pub fn is_absolute_uri(text: &str) -> bool {
    let Some((scheme, rest)) = text.split_once(':') else {
        return false;
    };
    let scheme_ok = scheme
        .as_bytes()
        .first()
        .is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
    if !scheme_ok {
        return false;
    }
    let (before_fragment, fragment) = rest.split_once('#').unwrap_or((rest, ""));
    let (hierarchy, query) = before_fragment
        .split_once('?')
        .unwrap_or((before_fragment, ""));
    let path = if let Some(after) = hierarchy.strip_prefix("//") {
        let end = after.find('/').unwrap_or(after.len());
        let (authority, path) = after.split_at(end);
        let host_port = authority
            .rsplit_once('@')
            .map_or(authority, |(userinfo, host_port)| {
                if valid_characters(userinfo, b":") {
                    host_port
                } else {
                    "\u{0}"
                }
            });
        let (host, port) = host_port.rsplit_once(':').unwrap_or((host_port, ""));
        if !valid_characters(host, b"") || !port.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        path
    } else {
        hierarchy
    };
    valid_characters(path, b":@/")
        && valid_characters(query, b":@/?")
        && valid_characters(fragment, b":@/?")
}

/// Whether `text` is an absolute `http://` or `https://` URL with a host: the only URLs grantd
/// stores for clients (`note_url`, app URLs) or builds its own on (the public URL). Other
/// schemes are absolute URIs too, but a `javascript:` or `data:` one handed back as a link is a
/// script waiting for a click.
pub fn is_web_url(text: &str) -> bool {
    let Some((scheme, rest)) = text.split_once("://") else {
        return false;
    };
    let host = rest
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default()
        .rsplit('@')
        .next()
        .unwrap_or_default();
    let host = host.rsplit_once(':').map_or(host, |(host, _port)| host);
    (scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https"))
        && !host.is_empty()
        && is_absolute_uri(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_urls_are_http_or_https_with_a_host() {
        for url in [
            "http://a",
            "https://ci.example.com:8443/a?b#c",
            "HTTPS://EXAMPLE.COM/",
            "https://user@example.com",
        ] {
            assert!(is_web_url(url), "{url} refused");
        }
        for text in [
            "javascript:alert(1)",
            "javascript://example.com/%0aalert(1)",
            "data:text/html,<b>",
            "mailto:octocat@example.com",
            "ftp://example.com/",
            "http://",
            "https:///path",
            "http://:80/",
            "notaurl",
            "http:/example.com",
        ] {
            assert!(!is_web_url(text), "{text:?} accepted");
        }
    }

    #[test]
    fn accepts_absolute_uris() {
        for uri in [
            "http://optional/note/url",
            "https://ci.example.com:8443/a/b?c=d&e=%20#frag",
            "https://user:pw@example.com/",
            "mailto:octocat@example.com",
            "urn:isbn:0451450523",
            "HTTP://EXAMPLE.COM",
            "http://a",
        ] {
            assert!(is_absolute_uri(uri), "{uri} refused");
        }
    }

    #[test]
    fn refuses_everything_else() {
        for text in [
            "",
            "Ü",
            "example.com/path",
            "/relative",
            "http://exa mple.com",
            "http://a:b/",
            "http://[::1]/",
            "http://a/%zz",
            "http://a/#x#y",
            "1http://a",
            "http://a/ü",
            "http://a/<>",
        ] {
            assert!(!is_absolute_uri(text), "{text:?} accepted");
        }
    }
}
