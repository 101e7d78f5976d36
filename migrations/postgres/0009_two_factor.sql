-- Two-factor authentication from the settings pages (issue 22).
--
-- The last TOTP time step (Unix seconds / 30) that signed in on the sign-in page: a code of
-- that step or an earlier one is refused there, so a code seen once cannot be replayed
-- (RFC 6238 §5.2). NULL until the first such sign-in.
ALTER TABLE users ADD COLUMN totp_last_step BIGINT;

-- Recovery codes: each signs in once in place of a TOTP code. Only their SHA-256 is stored
-- (they are random, 40 bits each, and the failed-login lockout bounds guessing). A user's
-- codes are replaced as a set when regenerated and go when 2FA is turned off or the user is
-- deleted.
CREATE TABLE recovery_codes (
    user_id    BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- SHA-256 of the code as shown (`xxxxx-xxxxx`, lower-case hex)
    code_hash  BYTEA   NOT NULL,
    PRIMARY KEY (user_id, code_hash)
);
