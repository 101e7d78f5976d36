//! The one source of the random bytes that become tokens, refresh tokens, OAuth codes, device
//! and user codes, session ids, the sign-in pages' CSRF secrets, client ids and secrets, TOTP
//! secrets and recovery codes: the operating system's CSPRNG, or, after [`seed`]
//! (`serve --rng-seed N`, allowed only with `--test-controls` or `--ephemeral`), a stream
//! derived from the seed, so that a test suite sees the same values from run to run.
//!
//! What never follows the seed, because repeating it would break a guarantee rather than make
//! a test repeatable: encryption keys and nonces (a nonce repeated under a key kept across
//! runs would expose the sealed secrets), argon2 salts (they only make stored password hashes
//! differ, which nothing reads), and the control token (a credential).
//!
//! A process-wide setting rather than a parameter: randomness is drawn deep inside the
//! domain's functions, and the seed is a property of the whole test server, set once before
//! it serves. Concurrent requests draw in the order they happen to run, so only a test that
//! sends its requests one after another gets the same values every time.

use std::sync::{Mutex, OnceLock, PoisonError};

use sha2::{Digest, Sha256};

static SEEDED: OnceLock<Mutex<SeededStream>> = OnceLock::new();

/// SHA-256 in counter mode over a key made from the seed: each block is
/// `SHA-256(key || counter)`. Deterministic, uniformly distributed, and no new dependency.
/// Predictable by design: whoever knows the seed knows every value.
struct SeededStream {
    key: [u8; 32],
    counter: u64,
    block: [u8; 32],
    used: usize,
}

impl SeededStream {
    fn new(seed: u64) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(b"grantd rng-seed v1 ");
        hasher.update(seed.to_le_bytes());
        Self {
            key: hasher.finalize().into(),
            counter: 0,
            block: [0; 32],
            used: 32,
        }
    }

    fn fill(&mut self, out: &mut [u8]) {
        for byte in out {
            if self.used == self.block.len() {
                let mut hasher = Sha256::new();
                hasher.update(self.key);
                hasher.update(self.counter.to_le_bytes());
                self.block = hasher.finalize().into();
                self.counter = self.counter.wrapping_add(1);
                self.used = 0;
            }
            *byte = self.block[self.used];
            self.used += 1;
        }
    }
}

/// Makes every later [`fill`] of this process draw from `seed`'s stream. `false` (and nothing
/// changes) if a seed was set already: the stream is the process's, set once at start.
pub fn seed(seed: u64) -> bool {
    SEEDED.set(Mutex::new(SeededStream::new(seed))).is_ok()
}

/// Whether [`seed`] was called.
pub fn is_seeded() -> bool {
    SEEDED.get().is_some()
}

/// Fills `out` with random bytes: the seed's stream if there is one, else the OS's CSPRNG.
pub fn fill(out: &mut [u8]) -> Result<(), getrandom::Error> {
    match SEEDED.get() {
        Some(stream) => {
            stream
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .fill(out);
            Ok(())
        }
        None => getrandom::fill(out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_gives_the_same_bytes_and_another_seed_others() {
        let draw = |seed| {
            let mut stream = SeededStream::new(seed);
            // Across block boundaries, in uneven pieces.
            let mut out = [0u8; 100];
            let (a, b) = out.split_at_mut(7);
            stream.fill(a);
            stream.fill(b);
            out
        };
        assert_eq!(draw(42), draw(42));
        assert_ne!(draw(42), draw(43));
        let mut whole = [0u8; 100];
        SeededStream::new(42).fill(&mut whole);
        assert_eq!(whole, draw(42));
    }
}
