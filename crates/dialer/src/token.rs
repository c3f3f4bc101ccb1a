//! The bearer token from `Auth/Login`, and the interceptor that puts it on every call.

use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::{Request, Status};

/// A session token issued by the analyser. Its `Debug` never shows the secret.
#[derive(Clone)]
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(..)")
    }
}

impl Token {
    /// Wraps a token string as returned by `LoginReply.token`.
    pub fn new(token: String) -> Self {
        Self(token)
    }

    /// The secret itself, e.g. for a browser cookie. Do not log it.
    pub fn secret(&self) -> &str {
        &self.0
    }

    /// Adds `authorization: Bearer <token>` to one request.
    pub fn authorize<T>(&self, request: &mut Request<T>) {
        if let Ok(value) = format!("Bearer {}", self.0).parse() {
            request.metadata_mut().insert("authorization", value);
        }
    }

    /// An interceptor for generated clients:
    /// `DataLinkClient::with_interceptor(channel, token.interceptor())`.
    pub fn interceptor(&self) -> Bearer {
        Bearer(format!("Bearer {}", self.0).parse().ok())
    }
}

/// Adds the session token to every call of a client (see [`Token::interceptor`]).
#[derive(Clone)]
pub struct Bearer(Option<MetadataValue<Ascii>>);

impl std::fmt::Debug for Bearer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Bearer(..)")
    }
}

impl Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        match &self.0 {
            Some(value) => {
                request
                    .metadata_mut()
                    .insert("authorization", value.clone());
                Ok(request)
            }
            // Tokens are hex, so this only happens if the server sent garbage.
            None => Err(Status::unauthenticated(
                "the session token is not valid header text; log in again",
            )),
        }
    }
}
