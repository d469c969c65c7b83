//! What an access token says about itself: the application permissions in
//! its `roles` claim, read so `doctor` and Reconcile can name a missing
//! grant before the first photo fails with 403.
//!
//! Entra ID puts an app-only token's application permissions in `roles`
//! (learn.microsoft.com/entra/identity-platform/access-token-claims-reference),
//! and a token that grants nothing has no `roles` claim at all. The payload
//! is decoded, never verified: the token was just issued to this process
//! over TLS and is read only to describe itself, never to authorise anything.
//! Microsoft also warns that tokens for its own APIs may not be JWTs at all
//! ("don't parse Microsoft Graph tokens": same page), so a token that does
//! not decode is [`Roles::Unreadable`], never a verdict.

use base64::Engine as _;

use super::AccessToken;

/// The application permissions a token carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Roles {
    /// A JWT whose payload decoded: its `roles` (empty when absent).
    Granted(Vec<String>),
    /// Not a readable JWT (opaque or encrypted): nothing can be said.
    Unreadable,
}

impl Roles {
    /// The permissions of `required` this token does not carry; `None` when
    /// the token cannot tell. A permission that implies another counts for
    /// it (`User.ReadWrite.All` covers `User.Read.All` and photo writes:
    /// learn.microsoft.com/graph/api/profilephoto-update, permissions table).
    pub fn missing<'a>(&self, required: &[&'a str]) -> Option<Vec<&'a str>> {
        let Self::Granted(held) = self else {
            return None;
        };
        let holds = |name: &str| held.iter().any(|h| h.eq_ignore_ascii_case(name));
        Some(
            required
                .iter()
                .copied()
                .filter(|&needed| {
                    !(holds(needed) || implied_by(needed).iter().any(|&wider| holds(wider)))
                })
                .collect(),
        )
    }
}

/// Wider application permissions that include `permission`.
fn implied_by(permission: &str) -> &'static [&'static str] {
    match permission {
        "ProfilePhoto.ReadWrite.All" => &["User.ReadWrite.All"],
        "User.Read.All" => &[
            "User.ReadWrite.All",
            "Directory.Read.All",
            "Directory.ReadWrite.All",
        ],
        _ => &[],
    }
}

/// Reads the `roles` claim of `token`.
pub fn roles(token: &AccessToken) -> Roles {
    let mut parts = token.expose().split('.');
    let (Some(_header), Some(payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Roles::Unreadable;
    };
    let Ok(json) =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('='))
    else {
        return Roles::Unreadable;
    };
    #[derive(serde::Deserialize)]
    struct Claims {
        #[serde(default)]
        roles: Vec<String>,
    }
    match serde_json::from_slice::<Claims>(&json) {
        Ok(claims) => Roles::Granted(claims.roles),
        Err(_) => Roles::Unreadable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(payload: &str) -> AccessToken {
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        AccessToken::new(format!(
            "{}.{}.c2ln",
            b64(r#"{"typ":"JWT","alg":"RS256"}"#),
            b64(payload)
        ))
    }

    #[test]
    fn names_what_is_missing_and_counts_wider_grants() {
        let token = jwt(r#"{"aud":"https://graph.microsoft.com","roles":["User.Read.All"]}"#);
        let needed = ["ProfilePhoto.ReadWrite.All", "User.Read.All"];
        assert_eq!(
            roles(&token).missing(&needed),
            Some(vec!["ProfilePhoto.ReadWrite.All"])
        );
        let wide = jwt(r#"{"roles":["User.ReadWrite.All"]}"#);
        assert_eq!(roles(&wide).missing(&needed), Some(vec![]));
    }

    #[test]
    fn a_token_without_roles_grants_nothing() {
        let token = jwt(r#"{"aud":"https://graph.microsoft.com"}"#);
        assert_eq!(roles(&token), Roles::Granted(vec![]));
        assert_eq!(
            roles(&token).missing(&["User.Read.All"]),
            Some(vec!["User.Read.All"])
        );
    }

    #[test]
    fn an_opaque_token_says_nothing() {
        for opaque in ["EwBwA8l6BAAU", "a.b", "a.!!!.c", "a.e30.c.d"] {
            let token = AccessToken::new(opaque.to_owned());
            assert_eq!(roles(&token).missing(&["User.Read.All"]), None, "{opaque}");
        }
        // `e30` is `{}`: a JWT without roles, which is a verdict.
        assert_eq!(
            roles(&AccessToken::new("a.e30.c".into())),
            Roles::Granted(vec![])
        );
    }
}
