//! Bearer tokens: issue, check, expiry, malformed headers, revoke.

use std::time::Duration;

use security::{Identity, Sessions};
use tonic::metadata::MetadataMap;
use tonic::service::Interceptor;

fn alice() -> Identity {
    Identity {
        user: "alice".into(),
        client_kind: "streamer".into(),
        station: "skyra".into(),
    }
}

fn bearer(value: &str) -> MetadataMap {
    let mut map = MetadataMap::new();
    map.insert("authorization", value.parse().expect("ascii"));
    map
}

#[test]
fn an_issued_token_identifies_its_user_until_revoked() {
    let sessions = Sessions::default();
    let (token, ttl) = sessions.issue(alice());
    assert_eq!(token.len(), 64);
    assert!(token.chars().all(|c| c.is_ascii_hexdigit()));
    assert!(ttl >= Duration::from_secs(3600));
    assert_eq!(
        sessions
            .check(&bearer(&format!("Bearer {token}")))
            .expect("valid"),
        alice()
    );
    let (other, _) = sessions.issue(alice());
    assert_ne!(token, other, "tokens are random");
    sessions.revoke(&token);
    let err = sessions
        .check(&bearer(&format!("Bearer {token}")))
        .expect_err("revoked");
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
    assert_eq!(sessions.len(), 1);
}

#[test]
fn expired_missing_and_malformed_tokens_are_refused_with_reasons() {
    let sessions = Sessions::new(Duration::ZERO);
    let (token, _) = sessions.issue(alice());
    let expired = sessions
        .check(&bearer(&format!("Bearer {token}")))
        .expect_err("expired");
    assert!(
        expired.message().contains("expired"),
        "{}",
        expired.message()
    );
    let missing = sessions.check(&MetadataMap::new()).expect_err("missing");
    assert!(
        missing.message().contains("Auth/Login"),
        "{}",
        missing.message()
    );
    let malformed = sessions
        .check(&bearer(&format!("Basic {token}")))
        .expect_err("not bearer");
    assert!(
        malformed.message().contains("Bearer <token>"),
        "{}",
        malformed.message()
    );
}

#[test]
fn the_interceptor_puts_the_identity_into_the_request() {
    let sessions = Sessions::default();
    let (token, _) = sessions.issue(alice());
    let mut intercept = sessions.interceptor();
    let mut request = tonic::Request::new(());
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ascii"),
    );
    let request = intercept.call(request).expect("accepted");
    assert_eq!(request.extensions().get::<Identity>(), Some(&alice()));
    let refused = intercept
        .call(tonic::Request::new(()))
        .expect_err("no token");
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
}

#[tokio::test]
async fn changing_a_password_ends_that_users_sessions() {
    let dir = tempfile::tempdir().expect("temp dir");
    let passwd = dir.path().join("passwd");
    security::users::add_user(&passwd, "alice", "one").expect("alice");
    security::users::add_user(&passwd, "bob", "pw").expect("bob");
    let sessions = Sessions::default();
    let auth = security::AuthService::new(&passwd, sessions.clone()).expect("auth");
    let watch = auth.watch_password_file().expect("a file to watch");
    let (alice_token, _) = sessions.issue(alice());
    let (bob_token, _) = sessions.issue(Identity {
        user: "bob".into(),
        ..alice()
    });
    security::users::add_user(&passwd, "alice", "two").expect("new password");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while sessions
        .check(&bearer(&format!("Bearer {alice_token}")))
        .is_ok()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "alice's token still works"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(sessions
        .check(&bearer(&format!("Bearer {bob_token}")))
        .is_ok());
    watch.abort();
}
