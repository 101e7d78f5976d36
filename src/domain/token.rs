//! GitHub's token formats: `ghp_`/`gho_`/`ghu_` (and `ghr_` refresh tokens) + 30 random base62
//! characters + a 6-character base62 CRC32 of those 30, as described in "Behind GitHub's new
//! authentication token formats".
//!
//! The clear token exists only in the response that creates it; everything stored or compared
//! is its SHA-256 ([`TokenHash`]). The checksum lets a malformed token be refused before any
//! lookup, which keeps typos and garbage off the database.

use std::fmt;

use sha2::{Digest, Sha256};

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const RANDOM_LEN: usize = 30;
const CHECKSUM_LEN: usize = 6;
/// Length of every token grantd issues: a 4-character prefix plus 36 characters.
pub const TOKEN_LEN: usize = 4 + RANDOM_LEN + CHECKSUM_LEN;

/// What a token was issued for, which GitHub encodes in its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// `ghp_`: a personal access token, made by `POST /authorizations` without a client id.
    Personal,
    /// `gho_`: an OAuth app's user token.
    OAuthApp,
    /// `ghu_`: a GitHub App's user-to-server token.
    GitHubApp,
}

impl TokenKind {
    pub const fn prefix(self) -> &'static str {
        match self {
            Self::Personal => "ghp_",
            Self::OAuthApp => "gho_",
            Self::GitHubApp => "ghu_",
        }
    }

    fn from_prefix(prefix: &str) -> Option<Self> {
        [Self::Personal, Self::OAuthApp, Self::GitHubApp]
            .into_iter()
            .find(|kind| kind.prefix() == prefix)
    }
}

/// A token in clear. Its `Debug` never prints it, so it cannot slip into a log line.
#[derive(Clone, PartialEq, Eq)]
pub struct PlainToken(String);

impl PlainToken {
    /// Draws a new token of `kind` from the operating system's CSPRNG (or `--rng-seed`'s
    /// stream: see `random.rs`).
    pub fn generate(kind: TokenKind) -> Result<Self, getrandom::Error> {
        compose(kind.prefix()).map(Self)
    }

    /// Accepts a string only if it has a known prefix, the right length and alphabet, and a
    /// checksum that matches. Nothing is looked up.
    pub fn parse(candidate: &str) -> Option<Self> {
        TokenKind::from_prefix(candidate.get(..4)?)?;
        well_formed(candidate).then(|| Self(candidate.to_owned()))
    }

    pub fn kind(&self) -> TokenKind {
        // Only `generate` and `parse` build a PlainToken, and both guarantee a known prefix.
        TokenKind::from_prefix(&self.0[..4]).unwrap_or(TokenKind::Personal)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash(Sha256::digest(self.0.as_bytes()).into())
    }

    /// The last eight characters, which GitHub shows so that people can tell tokens apart.
    pub fn last_eight(&self) -> String {
        self.0[TOKEN_LEN - 8..].to_owned()
    }
}

impl fmt::Debug for PlainToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PlainToken(***)")
    }
}

/// The SHA-256 of a token: the only form in which a token is stored or looked up.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

impl TokenHash {
    pub fn to_hex(self) -> String {
        // `hex::encode` goes through a char iterator; every token check shows this hash.
        let mut text = [0u8; 64];
        match hex::encode_to_slice(self.0, &mut text) {
            Ok(()) => String::from_utf8_lossy(&text).into_owned(),
            Err(_) => hex::encode(self.0),
        }
    }

    pub fn from_hex(text: &str) -> Option<Self> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        Some(Self(bytes))
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({})", self.to_hex())
    }
}

/// A new token text: `prefix`, 30 random base62 characters and their checksum.
fn compose(prefix: &str) -> Result<String, getrandom::Error> {
    let random = random_base62(RANDOM_LEN)?;
    let mut token = String::with_capacity(TOKEN_LEN);
    token.push_str(prefix);
    token.push_str(&random);
    token.extend(checksum(random.as_bytes()).map(char::from));
    Ok(token)
}

/// Whether `candidate` has a token's length and alphabet after its 4-character prefix, and a
/// checksum that matches (the prefix itself is the caller's to check).
fn well_formed(candidate: &str) -> bool {
    if candidate.len() != TOKEN_LEN || !candidate.is_ascii() {
        return false;
    }
    let rest = &candidate[4..];
    if !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return false;
    }
    let (random, sum) = rest.split_at(RANDOM_LEN);
    checksum(random.as_bytes()) == sum.as_bytes()
}

/// The prefix of a refresh token.
pub const REFRESH_PREFIX: &str = "ghr_";

/// A refresh token in clear (`ghr_`, GitHub Apps' expiring user tokens), in the same shape and
/// with the same checksum as the access tokens. A type of its own rather than a [`TokenKind`]:
/// a refresh token never authenticates a request, so only the refresh grant ever parses one.
/// Its `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken(String);

impl RefreshToken {
    /// Draws a new refresh token, as [`PlainToken::generate`] does.
    pub fn generate() -> Result<Self, getrandom::Error> {
        compose(REFRESH_PREFIX).map(Self)
    }

    /// Accepts only a well-formed `ghr_` token (length, alphabet, checksum); nothing is looked up.
    pub fn parse(candidate: &str) -> Option<Self> {
        (candidate.starts_with(REFRESH_PREFIX) && well_formed(candidate))
            .then(|| Self(candidate.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> RefreshHash {
        RefreshHash(Sha256::digest(self.0.as_bytes()).into())
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshToken(***)")
    }
}

/// The SHA-256 of a refresh token: the only form in which one is stored or looked up.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RefreshHash(pub [u8; 32]);

impl fmt::Debug for RefreshHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RefreshHash({})", hex::encode(self.0))
    }
}

/// The CRC32 of `data` in base62, left-padded with `0` to six characters (ASCII).
fn checksum(data: &[u8]) -> [u8; CHECKSUM_LEN] {
    let mut value = crc32fast::hash(data);
    let mut digits = [b'0'; CHECKSUM_LEN];
    for slot in digits.iter_mut().rev() {
        *slot = BASE62[(value % 62) as usize];
        value /= 62;
    }
    // 62^6 > 2^32, so six digits always hold the whole CRC.
    digits
}

/// `len` characters drawn uniformly from the base62 alphabet (from `--rng-seed`'s stream when
/// set: see `random.rs`). Bytes of 248 and above are rejected rather than reduced modulo 62,
/// which would favour the first eight characters.
pub(crate) fn random_base62(len: usize) -> Result<String, getrandom::Error> {
    base62_from(len, super::random::fill)
}

/// [`random_base62`] from the OS's CSPRNG whatever the seed: for credentials that must not be
/// predictable even in a seeded test server (the control token).
pub(crate) fn os_random_base62(len: usize) -> Result<String, getrandom::Error> {
    base62_from(len, getrandom::fill)
}

fn base62_from(
    len: usize,
    fill: impl Fn(&mut [u8]) -> Result<(), getrandom::Error>,
) -> Result<String, getrandom::Error> {
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        fill(&mut buf)?;
        for &byte in &buf {
            if byte < 248 && out.len() < len {
                out.push(char::from(BASE62[usize::from(byte % 62)]));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_have_githubs_shape() {
        for kind in [
            TokenKind::Personal,
            TokenKind::OAuthApp,
            TokenKind::GitHubApp,
        ] {
            let token = PlainToken::generate(kind).unwrap();
            let text = token.expose();
            assert_eq!(text.len(), 40);
            assert!(text.starts_with(kind.prefix()));
            assert!(text[4..].bytes().all(|b| b.is_ascii_alphanumeric()));
            assert_eq!(PlainToken::parse(text), Some(token.clone()));
            assert_eq!(token.kind(), kind);
        }
    }

    #[test]
    fn checksum_is_base62_crc32_of_the_random_part() {
        // Re-derive the encoding from its definition, most significant digit first.
        let random = "a".repeat(30);
        let crc = crc32fast::hash(random.as_bytes());
        let mut expected = String::new();
        let mut v = u64::from(crc);
        for _ in 0..6 {
            expected.insert(0, char::from(BASE62[(v % 62) as usize]));
            v /= 62;
        }
        assert_eq!(checksum(random.as_bytes()), expected.as_bytes());
        assert!(PlainToken::parse(&format!("ghp_{random}{expected}")).is_some());
    }

    #[test]
    fn checksum_pads_small_values_with_zeros() {
        // The CRC32 of the empty string is 0.
        assert_eq!(&checksum(b""), b"000000");
    }

    #[test]
    fn parse_rejects_bad_checksums_prefixes_lengths_and_alphabets() {
        let good = PlainToken::generate(TokenKind::OAuthApp).unwrap();
        let text = good.expose();
        let mut flipped = text.as_bytes().to_vec();
        flipped[10] = if flipped[10] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert_eq!(PlainToken::parse(&flipped), None);
        assert_eq!(PlainToken::parse(&text.replacen("gho_", "ghx_", 1)), None);
        assert_eq!(PlainToken::parse(&text[..39]), None);
        assert_eq!(PlainToken::parse(&format!("{text}0")), None);
        assert_eq!(PlainToken::parse(&text.replacen(&text[5..6], "-", 1)), None);
        assert_eq!(PlainToken::parse(""), None);
        assert_eq!(
            PlainToken::parse("gho_ü234567890123456789012345678901234"),
            None
        );
    }

    #[test]
    fn hash_is_sha256_hex_and_last_eight_is_the_tail() {
        let token = PlainToken::parse(&{
            let random = "0123456789abcdefghijABCDEFGHIJ";
            format!(
                "ghp_{random}{}",
                String::from_utf8_lossy(&checksum(random.as_bytes()))
            )
        })
        .unwrap();
        let expected = hex::encode(Sha256::digest(token.expose().as_bytes()));
        assert_eq!(token.hash().to_hex(), expected);
        assert_eq!(TokenHash::from_hex(&expected), Some(token.hash()));
        assert_eq!(token.last_eight(), token.expose()[32..]);
    }

    #[test]
    fn refresh_tokens_have_githubs_shape_and_are_no_access_tokens() {
        let token = RefreshToken::generate().unwrap();
        let text = token.expose();
        assert_eq!(text.len(), TOKEN_LEN);
        assert!(text.starts_with("ghr_"));
        assert!(well_formed(text));
        assert_eq!(RefreshToken::parse(text), Some(token.clone()));
        // Never an access token, and an access token is never a refresh token.
        assert_eq!(PlainToken::parse(text), None);
        let access = PlainToken::generate(TokenKind::GitHubApp).unwrap();
        assert_eq!(RefreshToken::parse(access.expose()), None);
        // The checksum refuses a typo.
        let mut typo = text.as_bytes().to_vec();
        typo[10] = if typo[10] == b'A' { b'B' } else { b'A' };
        let typo = String::from_utf8(typo).unwrap();
        assert_eq!(RefreshToken::parse(&typo), None);
        let expected: [u8; 32] = Sha256::digest(text.as_bytes()).into();
        assert_eq!(token.hash(), RefreshHash(expected));
        assert!(!format!("{token:?}").contains(&text[4..]));
    }

    #[test]
    fn debug_never_shows_the_token() {
        let token = PlainToken::generate(TokenKind::Personal).unwrap();
        assert!(!format!("{token:?}").contains(&token.expose()[4..]));
    }

    #[test]
    fn random_characters_cover_the_whole_alphabet() {
        let sample = random_base62(20_000).unwrap();
        for &c in BASE62 {
            assert!(
                sample.as_bytes().contains(&c),
                "{} never drawn",
                char::from(c)
            );
        }
    }
}

/// Fuzzing (issue 18): whatever a client sends as a token, parsing answers without panicking,
/// and the checksum refuses every one-character typo of a real token.
#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::*;

    /// A token-shaped string: often the right length and alphabet, sometimes not.
    fn near_token() -> impl Strategy<Value = String> {
        prop_oneof![
            "(gh[pousx]_)?[0-9A-Za-z]{30,36}",
            "gh[pou]_[0-9A-Za-z_\\-\u{e9}]{36}",
            ".{0,48}",
        ]
    }

    /// A well-formed token of any kind, built from proptest's random part rather than the OS's.
    fn token() -> impl Strategy<Value = String> {
        (
            prop::sample::select(vec![
                TokenKind::Personal,
                TokenKind::OAuthApp,
                TokenKind::GitHubApp,
            ]),
            "[0-9A-Za-z]{30}",
        )
            .prop_map(|(kind, random)| {
                let sum = checksum(random.as_bytes());
                format!("{}{random}{}", kind.prefix(), String::from_utf8_lossy(&sum))
            })
    }

    proptest! {
        #[test]
        fn parsing_any_string_never_panics(text in any::<String>(), near in near_token()) {
            for candidate in [&text, &near] {
                if let Some(token) = PlainToken::parse(candidate) {
                    // Whatever parses is a whole token, usable as one.
                    prop_assert_eq!(token.expose(), candidate.as_str());
                    prop_assert!(candidate.starts_with(token.kind().prefix()));
                    prop_assert_eq!(token.last_eight().len(), 8);
                }
            }
        }

        #[test]
        fn every_well_formed_token_parses_back(text in token()) {
            let token = PlainToken::parse(&text);
            prop_assert!(token.is_some(), "{} refused", text);
            let token = token.unwrap();
            prop_assert_eq!(token.expose(), text.as_str());
            prop_assert_eq!(TokenHash::from_hex(&token.hash().to_hex()), Some(token.hash()));
        }

        /// One character changed anywhere after the prefix (the random part or the checksum)
        /// is always refused: CRC32 catches every error confined to 32 bits, and each checksum
        /// digit is part of the CRC's one base62 spelling. The prefix is not under the
        /// checksum (GitHub computes it over the random part only), so changing `gho_` into
        /// another known prefix gives another well-formed token, of another kind, which hashes
        /// to nothing issued.
        #[test]
        fn a_one_character_change_is_refused(
            text in token(),
            position in 0..TOKEN_LEN,
            replacement in any::<char>(),
        ) {
            let original = char::from(text.as_bytes()[position]);
            prop_assume!(replacement != original);
            let mut changed = text.clone();
            changed.replace_range(position..=position, &replacement.to_string());
            let parsed = PlainToken::parse(&changed);
            if position < 4 && changed.get(..4).and_then(TokenKind::from_prefix).is_some() {
                prop_assert_ne!(parsed.map(|t| t.kind()), PlainToken::parse(&text).map(|t| t.kind()));
            } else {
                prop_assert_eq!(parsed, None, "{} accepted", changed);
            }
        }
    }

    #[test]
    fn tokens_from_the_os_random_source_parse_back() {
        for kind in [
            TokenKind::Personal,
            TokenKind::OAuthApp,
            TokenKind::GitHubApp,
        ] {
            for _ in 0..100 {
                let token = PlainToken::generate(kind).unwrap();
                assert_eq!(PlainToken::parse(token.expose()), Some(token.clone()));
                assert_eq!(token.kind(), kind);
            }
        }
    }
}
