//! Signed access tokens: JWT (HS256) carrying the user and the session they belong to.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::AuthFailure;
use super::time::Timestamp;

/// The fixed JOSE header `{"alg":"HS256","typ":"JWT"}`; tokens with any other header are refused.
const HEADER: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

/// What an access token says.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    /// The session (login) id; revoking the session revokes the token.
    pub sid: String,
    /// Audience: the surface the token was issued for.
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
}

/// The signing key.
#[derive(Clone)]
pub struct TokenKeys {
    mac: Hmac<Sha256>,
}

impl TokenKeys {
    pub fn new(secret: &[u8]) -> Self {
        // HMAC accepts keys of any length.
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
        TokenKeys { mac }
    }

    /// Signs the claims into a compact JWT.
    pub fn sign(&self, claims: &Claims) -> String {
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
        let signing_input = format!("{HEADER}.{payload}");
        let mut mac = self.mac.clone();
        mac.update(signing_input.as_bytes());
        let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{signing_input}.{sig}")
    }

    /// Checks signature, audience and expiry.
    pub fn verify(
        &self,
        token: &str,
        audience: &str,
        now: Timestamp,
    ) -> Result<Claims, AuthFailure> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AuthFailure::InvalidToken);
        };
        if header != HEADER {
            return Err(AuthFailure::InvalidToken);
        }
        let sig = URL_SAFE_NO_PAD
            .decode(sig)
            .map_err(|_| AuthFailure::InvalidToken)?;
        let mut mac = self.mac.clone();
        mac.update(header.as_bytes());
        mac.update(b".");
        mac.update(payload.as_bytes());
        mac.verify_slice(&sig)
            .map_err(|_| AuthFailure::InvalidToken)?;
        let bytes = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| AuthFailure::InvalidToken)?;
        let claims: Claims =
            serde_json::from_slice(&bytes).map_err(|_| AuthFailure::InvalidToken)?;
        if claims.aud != audience {
            return Err(AuthFailure::InvalidToken);
        }
        if now.secs() >= claims.exp {
            return Err(AuthFailure::ExpiredToken);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_verifies() {
        let keys = TokenKeys::new(b"0123456789abcdef0123456789abcdef");
        let claims = Claims {
            sub: "u".into(),
            sid: "s".into(),
            aud: "heating".into(),
            iat: 100,
            exp: 200,
        };
        let token = keys.sign(&claims);
        assert!(token.starts_with("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."));
        assert_eq!(
            keys.verify(&token, "heating", Timestamp::from_millis(150_000)),
            Ok(claims)
        );
        assert_eq!(
            keys.verify(&token, "heating", Timestamp::from_millis(200_000)),
            Err(AuthFailure::ExpiredToken)
        );
        assert_eq!(
            keys.verify(&token, "meter", Timestamp::from_millis(150_000)),
            Err(AuthFailure::InvalidToken)
        );
        let other = TokenKeys::new(b"another key entirely, 32 bytes!!");
        assert_eq!(
            other.verify(&token, "heating", Timestamp::from_millis(150_000)),
            Err(AuthFailure::InvalidToken)
        );
        let mut tampered = token.clone();
        tampered.insert(40, 'x');
        assert!(
            keys.verify(&tampered, "heating", Timestamp::from_millis(150_000))
                .is_err()
        );
    }
}
