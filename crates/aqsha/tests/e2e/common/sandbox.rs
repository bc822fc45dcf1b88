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

    /// A request to the sandbox API as the merchant `m` (`{"client_id", "client_secret"}`, as
    /// [`Server::add_merchant`] returns it).
    pub fn sandbox_as(&self, m: &Value, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, self.path(path)).basic_auth(
            m["client_id"].as_str().unwrap(),
            Some(m["client_secret"].as_str().unwrap()),
        )
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
