//! A merchant's web site for the browser trials: its own HTTP server on loopback, reached as
//! `http://localhost:PORT` while Aqsha is `http://127.0.0.1:PORT`, so that the two are
//! different sites, as a real shop and its gateway are (no cookie of one goes to the other).

use axum::extract::State;
use axum::http::Uri;
use axum::response::Html;
use axum::Router;
use serde_json::Value;
use std::sync::{Arc, Mutex};

pub struct Shop {
    /// `http://localhost:PORT`.
    pub url: String,
    page: Arc<Mutex<String>>,
    task: tokio::task::JoinHandle<()>,
}

async fn serve(State(page): State<Arc<Mutex<String>>>, uri: Uri) -> Html<String> {
    if uri.path() == "/shop" {
        return Html(page.lock().unwrap().clone());
    }
    // backLink and failureBackLink land here.
    Html(format!(
        "<!doctype html><title>landed</title><h1 id=\"landed\">{}</h1>",
        uri.path()
    ))
}

impl Shop {
    pub async fn start() -> Shop {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://localhost:{}", listener.local_addr().unwrap().port());
        let page = Arc::new(Mutex::new(String::new()));
        let app = Router::new().fallback(serve).with_state(page.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Shop { url, page, task }
    }

    /// The shop's page at `/shop`: loads Aqsha's `payment-api.js` and, on a click of
    /// `#pay`, calls `halyk.<call>(params)`. The widget's callback writes its result into the
    /// page's title, where the trial reads it.
    pub fn checkout(&self, aqsha: &str, call: &str, params: &Value) -> String {
        let invoke = if call == "showPaymentWidget" {
            "halyk.showPaymentWidget(params, function (r) { document.title = 'result:' + JSON.stringify(r); });"
                .to_string()
        } else {
            format!("halyk.{call}(params);")
        };
        *self.page.lock().unwrap() = format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>shop</title>\
             <script src=\"{aqsha}/payform/payment-api.js\"></script></head><body>\
             <button id=\"pay\">Pay</button><script>var params = {params};\
             document.getElementById('pay').onclick = function () {{ {invoke} }};</script>\
             </body></html>"
        );
        format!("{}/shop", self.url)
    }
}

impl Drop for Shop {
    fn drop(&mut self) {
        self.task.abort();
    }
}
