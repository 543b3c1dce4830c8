//! Sending text messages (短信) for petitioners' phone verification.
//!
//! The application only knows the [`SmsGateway`] trait. Two senders ship: [`DevSms`], the
//! default, which writes the message (and so the code) to the log for development and demos;
//! and [`HttpSms`], a generic adapter for an operator's SMS platform configured by a URL and a
//! shared secret. It POSTs `{"phone", "text", "timestamp"}` as JSON with the headers
//! `X-Huiyin-Timestamp` (milliseconds) and `X-Huiyin-Signature`, the lowercase hex
//! HMAC-SM3 of `timestamp + "\n" + body` under the secret, so the platform can reject forged
//! or replayed requests.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use hmac::{KeyInit, Mac, SimpleHmac};
use sm3::Sm3;

/// Why a message could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum SmsError {
    /// The gateway could not be reached (network, timeout).
    #[error("SMS gateway unreachable: {0}")]
    Unreachable(String),
    /// The gateway answered, but refused the message.
    #[error("SMS gateway refused the message: {0}")]
    Refused(String),
    /// The sender is misconfigured.
    #[error("SMS sender misconfigured: {0}")]
    Config(String),
}

/// The future a sender returns (boxed, so senders can be chosen at run time).
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<(), SmsError>> + Send + 'a>>;

/// A way to deliver a text message to a mobile phone.
///
/// Written with an explicit boxed future (the shape of `async fn send(&self, phone, text)`) so
/// the trait can be used as `Arc<dyn SmsGateway>`.
pub trait SmsGateway: Send + Sync + 'static {
    /// Sends `text` to `phone` (11 digits, no prefix).
    fn send<'a>(&'a self, phone: &'a str, text: &'a str) -> SendFuture<'a>;

    /// Sends a notification that may be retried: `key` is the same on every attempt, for a
    /// gateway that drops duplicates. The default ignores it.
    fn send_keyed<'a>(&'a self, phone: &'a str, text: &'a str, key: &'a str) -> SendFuture<'a> {
        let _ = key;
        self.send(phone, text)
    }
}

/// The development sender: writes the message to the log instead of sending it.
#[derive(Debug, Clone, Copy, Default)]
pub struct DevSms;

impl SmsGateway for DevSms {
    fn send<'a>(&'a self, phone: &'a str, text: &'a str) -> SendFuture<'a> {
        Box::pin(async move {
            // The code must be visible to the developer; the number need not be.
            let masked = huiyin_domain::values::PhoneNumber::parse(phone)
                .map(|p| p.masked())
                .unwrap_or_else(|_| "***".into());
            tracing::info!(
                phone = %masked,
                text,
                "SMS not sent: development sender (use an HTTP gateway in production)"
            );
            Ok(())
        })
    }
}

/// The header carrying the request time in milliseconds since the epoch.
pub const TIMESTAMP_HEADER: &str = "x-huiyin-timestamp";
/// The header carrying the HMAC-SM3 signature.
pub const SIGNATURE_HEADER: &str = "x-huiyin-signature";

/// The signature of a request: hex HMAC-SM3 of `timestamp + "\n" + body` under `secret`.
pub fn sign(secret: &[u8], timestamp_ms: i64, body: &[u8]) -> Result<String, SmsError> {
    let mut mac = <SimpleHmac<Sm3> as KeyInit>::new_from_slice(secret)
        .map_err(|e| SmsError::Config(format!("HMAC key: {e}")))?;
    mac.update(timestamp_ms.to_string().as_bytes());
    mac.update(b"\n");
    mac.update(body);
    Ok(hex::encode(mac.finalize().into_bytes()))
}

/// Checks a signature in constant time (for gateways and tests).
pub fn verify_signature(secret: &[u8], timestamp_ms: i64, body: &[u8], signature: &str) -> bool {
    let Ok(expected) = hex::decode(signature) else {
        return false;
    };
    let Ok(mut mac) = <SimpleHmac<Sm3> as KeyInit>::new_from_slice(secret) else {
        return false;
    };
    mac.update(timestamp_ms.to_string().as_bytes());
    mac.update(b"\n");
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// A generic HTTP SMS gateway: POST JSON, signed with a shared secret.
#[derive(Clone)]
pub struct HttpSms {
    url: String,
    secret: Vec<u8>,
    client: reqwest::Client,
}

impl std::fmt::Debug for HttpSms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSms")
            .field("url", &self.url)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl HttpSms {
    /// The most a send may take before it counts as unreachable.
    pub const TIMEOUT: Duration = Duration::from_secs(10);

    pub fn new(url: &str, secret: &[u8]) -> Result<HttpSms, SmsError> {
        if url.starts_with("https://") {
            // The binary carries no TLS client (no OpenSSL, no extra crypto stack to certify).
            return Err(SmsError::Config(format!(
                "this build has no TLS client: point the SMS gateway URL at an http:// relay on \
                 the internal network (the request is signed either way): {url}"
            )));
        }
        if !url.starts_with("http://") {
            return Err(SmsError::Config(format!(
                "the SMS gateway URL must start with http://: {url}"
            )));
        }
        if secret.len() < 16 {
            return Err(SmsError::Config(
                "the SMS gateway secret must be at least 16 bytes".into(),
            ));
        }
        let client = reqwest::Client::builder()
            .timeout(Self::TIMEOUT)
            .build()
            .map_err(|e| SmsError::Config(e.to_string()))?;
        Ok(HttpSms {
            url: url.to_string(),
            secret: secret.to_vec(),
            client,
        })
    }
}

impl SmsGateway for HttpSms {
    fn send<'a>(&'a self, phone: &'a str, text: &'a str) -> SendFuture<'a> {
        self.post(phone, text, None)
    }

    fn send_keyed<'a>(&'a self, phone: &'a str, text: &'a str, key: &'a str) -> SendFuture<'a> {
        self.post(phone, text, Some(key))
    }
}

impl HttpSms {
    fn post<'a>(&'a self, phone: &'a str, text: &'a str, key: Option<&'a str>) -> SendFuture<'a> {
        Box::pin(async move {
            let timestamp = chrono::Utc::now().timestamp_millis();
            let mut json = serde_json::json!({
                "phone": phone,
                "text": text,
                "timestamp": timestamp,
            });
            if let Some(key) = key {
                json["idempotency_key"] = serde_json::Value::String(key.to_string());
            }
            let body = serde_json::to_vec(&json).map_err(|e| SmsError::Config(e.to_string()))?;
            let signature = sign(&self.secret, timestamp, &body)?;
            let mut request = self
                .client
                .post(&self.url)
                .header("content-type", "application/json")
                .header(TIMESTAMP_HEADER, timestamp.to_string())
                .header(SIGNATURE_HEADER, signature);
            if let Some(key) = key {
                request = request.header("idempotency-key", key);
            }
            let response = request
                .body(body)
                .send()
                .await
                .map_err(|e| SmsError::Unreachable(e.to_string()))?;
            let status = response.status();
            if status.is_success() {
                Ok(())
            } else {
                Err(SmsError::Refused(format!("HTTP {status}")))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_only_unchanged() {
        let secret = b"0123456789abcdef-secret";
        let sig = sign(secret, 1_700_000_000_000, b"{\"a\":1}").unwrap_or_default();
        assert_eq!(sig.len(), 64);
        assert!(verify_signature(
            secret,
            1_700_000_000_000,
            b"{\"a\":1}",
            &sig
        ));
        assert!(!verify_signature(
            secret,
            1_700_000_000_001,
            b"{\"a\":1}",
            &sig
        ));
        assert!(!verify_signature(
            secret,
            1_700_000_000_000,
            b"{\"a\":2}",
            &sig
        ));
        assert!(!verify_signature(
            b"another-secret-0000",
            1_700_000_000_000,
            b"{\"a\":1}",
            &sig
        ));
    }

    #[test]
    fn http_sender_checks_its_configuration() {
        assert!(HttpSms::new("ftp://x", b"0123456789abcdef").is_err());
        assert!(HttpSms::new("https://sms.example/send", b"0123456789abcdef").is_err());
        assert!(HttpSms::new("http://127.0.0.1:1/sms", b"short").is_err());
        assert!(HttpSms::new("http://127.0.0.1:1/sms", b"0123456789abcdef").is_ok());
    }
}
