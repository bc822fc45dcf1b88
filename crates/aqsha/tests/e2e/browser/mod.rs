//! Trials in a real browser: headless Chromium driven over WebDriver (`fantoccini`) by one
//! `chromedriver` per test process, started on first use on a free port and stopped when the
//! run ends ([`shutdown`]). Each trial opens its own browser session.
//!
//! Debian's `chromium` and `chromium-driver` packages are what this expects. Without them the
//! browser trials are reported ignored; `AQSHA_REQUIRE_CHROMIUM=1` (CI) makes them fail.
//! `AQSHA_SCREENSHOTS=DIR` makes the trials that draw the documented pages write PNGs there
//! (docs/payform.md, "Screenshots").

pub mod cabinet;
pub mod cabinet_looks;
pub mod cabinet_more;
pub mod payform;
pub mod payform_3ds;
pub mod payform_demo;
pub mod payform_keyboard;
pub mod shop;

use fantoccini::{Client, ClientBuilder, Locator};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

/// The browser binary and the driver, found on PATH.
fn binaries() -> Option<(PathBuf, PathBuf)> {
    let find = |names: &[&str]| {
        let path = std::env::var_os("PATH")?;
        names.iter().find_map(|name| {
            std::env::split_paths(&path)
                .map(|dir| dir.join(name))
                .find(|p| p.is_file())
        })
    };
    Some((
        find(&["chromium", "chromium-browser", "google-chrome"])?,
        find(&["chromedriver"])?,
    ))
}

/// Why the browser trials cannot run here, if they cannot.
pub fn missing() -> Option<String> {
    binaries().is_none().then(|| {
        "no chromium and chromedriver on PATH (apt-get install chromium chromium-driver)".into()
    })
}

pub fn required() -> bool {
    std::env::var("AQSHA_REQUIRE_CHROMIUM").as_deref() == Ok("1")
}

/// The process's chromedriver: its child process and URL.
static DRIVER: Mutex<Option<(Child, String)>> = Mutex::new(None);

/// The chromedriver URL, starting the driver if this process has none yet.
fn driver_url() -> String {
    let mut driver = DRIVER.lock().unwrap();
    if let Some((_, url)) = driver.as_ref() {
        return url.clone();
    }
    let (_, chromedriver) = binaries().expect("chromedriver on PATH");
    let port = crate::common::receiver::free_port().port();
    let child = Command::new(chromedriver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let url = format!("http://127.0.0.1:{port}");
    // Ready when it accepts connections: polled, as there is nothing to await.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "chromedriver did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    *driver = Some((child, url.clone()));
    url
}

/// Stops this process's chromedriver, if one was started.
pub fn shutdown() {
    if let Some((mut child, _)) = DRIVER.lock().unwrap().take() {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// A new headless browser session, at `width`×`height`.
pub async fn open(width: u32, height: u32) -> Client {
    open_with(width, height, serde_json::json!({})).await
}

/// [`open`], with downloads saved into `dir` without asking (the cabinet's CSV export).
pub async fn open_downloading(width: u32, height: u32, dir: &std::path::Path) -> Client {
    let prefs = serde_json::json!({
        "download.default_directory": dir,
        "download.prompt_for_download": false,
    });
    open_with(width, height, prefs).await
}

/// A new session with these Chromium preferences.
async fn open_with(width: u32, height: u32, prefs: serde_json::Value) -> Client {
    let (chromium, _) = binaries().expect("chromium on PATH");
    let caps = serde_json::json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--hide-scrollbars",
                     format!("--window-size={width},{height}")],
            "prefs": prefs,
        },
    });
    let serde_json::Value::Object(caps) = caps else {
        unreachable!()
    };
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let client = ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&driver_url())
        .await
        .expect("a browser session");
    client.set_window_size(width, height).await.unwrap();
    client
}

/// How long a browser wait may take before the trial fails. Pages answer in milliseconds; the
/// ceiling is for CI, where the crash campaign's kills and hostile clients share two cores
/// with Chromium (a 20 s ceiling once ran out there for an ACS frame).
pub const PAGE_WAIT: Duration = Duration::from_secs(60);

/// Waits for an element (the browser polls, up to [`PAGE_WAIT`]).
pub async fn element(c: &Client, css: &str) -> fantoccini::elements::Element {
    c.wait()
        .at_most(PAGE_WAIT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
}

/// Types into the element `css`.
pub async fn type_into(c: &Client, css: &str, text: &str) {
    element(c, css).await.send_keys(text).await.unwrap();
}

/// Waits until the browser's URL satisfies `pred`, and returns it.
pub async fn url_where(c: &Client, what: &str, pred: impl Fn(&url::Url) -> bool) -> url::Url {
    let deadline = std::time::Instant::now() + PAGE_WAIT;
    loop {
        let url = c.current_url().await.unwrap();
        if pred(&url) {
            return url;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never {what}; at {url}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The directory to write screenshots into (`AQSHA_SCREENSHOTS`), if asked for.
pub fn screenshot_dir() -> Option<PathBuf> {
    std::env::var_os("AQSHA_SCREENSHOTS").map(PathBuf::from)
}

/// The window sizes at which a trial that draws documented pages runs: phone and desktop
/// when screenshots are asked for, else the phone alone.
pub fn sizes() -> &'static [(u32, u32, &'static str)] {
    const ALL: [(u32, u32, &str); 2] = [(390, 844, "phone"), (1280, 800, "desktop")];
    if screenshot_dir().is_some() {
        &ALL
    } else {
        &ALL[..1]
    }
}

/// Writes the whole page as `DIR/name.png` when screenshots are asked for.
///
/// WebDriver's screenshot is the viewport only, so the window first grows to the document's
/// height (plus whatever the window itself takes), and gets its size back afterwards. A page
/// in a frame (the widget) is shot as the viewport shows it: its frame has a size of its own.
pub async fn screenshot(c: &Client, name: &str) {
    let Some(dir) = screenshot_dir() else {
        return;
    };
    std::fs::create_dir_all(&dir).unwrap();
    let (width, height) = c.get_window_size().await.unwrap();
    let measure = "return window.parent !== window ? 0 : \
                   document.documentElement.scrollHeight + window.outerHeight - window.innerHeight;";
    let needed = c
        .execute(measure, vec![])
        .await
        .unwrap()
        .as_u64()
        .unwrap_or(0);
    let grow = needed > height;
    if grow {
        c.set_window_size(width as u32, needed as u32)
            .await
            .unwrap();
        wait_for_viewport(c).await;
    }
    let png = c.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    if grow {
        c.set_window_size(width as u32, height as u32)
            .await
            .unwrap();
    }
}

/// Waits until the viewport holds the whole document (the resize is applied by the browser
/// after the command answers).
async fn wait_for_viewport(c: &Client) {
    let fits = "return window.innerHeight >= document.documentElement.scrollHeight;";
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while c.execute(fits, vec![]).await.unwrap() != serde_json::json!(true) {
        assert!(
            std::time::Instant::now() < deadline,
            "the window did not grow"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Presses keys on whatever has the focus, as a keyboard does (WebDriver actions: each key
/// down, then up), e.g. `press(c, "\u{E004}")` for Tab.
pub async fn press(c: &Client, keys: &str) {
    use fantoccini::actions::{InputSource, KeyAction, KeyActions};
    let mut actions = KeyActions::new("keyboard".into());
    for key in keys.chars() {
        actions = actions
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Up { value: key });
    }
    c.perform_actions(actions).await.unwrap();
}

/// The WebDriver key codes `press` takes.
pub const TAB: &str = "\u{E004}";
pub const ENTER: &str = "\u{E007}";
pub const DOWN: &str = "\u{E015}";

/// The `id` of the element that has the focus.
pub async fn focused(c: &Client) -> String {
    let el = c.active_element().await.unwrap();
    el.attr("id").await.unwrap().unwrap_or_default()
}
