//! The operations list (`POST /p2p/operations`): a password-grant token for the merchant's
//! cabinet login, and searches with it.

use crate::client::Client;
use crate::error::Result;
use crate::token::{AccessToken, TokenBinding};
use aqsha_wire::operations::{OperationsRequest, OperationsResponse};

impl Client {
    /// A token of the password grant (`grant_type=password`, scope `transfer`) for the
    /// merchant's cabinet login: what [`Client::operations`] needs. Not cached; it lasts as
    /// long as any token (two hours on ePay).
    pub async fn login_token(&self, login: &str, password: &str) -> Result<AccessToken> {
        let fields = TokenBinding {
            grant_type: Some("password".into()),
            scope: Some("transfer".into()),
            username: Some(login.to_string()),
            password: Some(password.to_string()),
            ..Default::default()
        }
        .to_fields();
        self.request_token(fields).await
    }

    /// One page of the merchant's operations matching `search` (reference §6).
    pub async fn operations(
        &self,
        token: &AccessToken,
        search: &OperationsRequest,
    ) -> Result<OperationsResponse> {
        let url = self.api_url("/p2p/operations");
        let request = self
            .http
            .post(&url)
            .bearer_auth(token.secret())
            .json(search);
        self.json_call(&url, request).await
    }
}
