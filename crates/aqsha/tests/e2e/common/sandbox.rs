//! The sandbox API as the test merchant (HTTP Basic with its client credentials).

use super::{Server, CLIENT_ID, CLIENT_SECRET};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::Value;

impl Server {
    /// A request to the sandbox API (`/sandbox/…`), authenticated as the test merchant.
    pub fn sandbox(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, self.path(path))
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
    }

    /// `POST`s a JSON body to the sandbox API: the status and the JSON answer.
    pub async fn sandbox_post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        let resp = self
            .sandbox(Method::POST, path)
            .json(body)
            .send()
            .await
            .unwrap();
        (resp.status(), resp.json().await.unwrap())
    }
}
