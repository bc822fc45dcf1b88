//! Connection settings for the client subcommands: flags, `AQSHA_*` environment variables and
//! a profile file, in that order of precedence, over built-in profiles.

use anyhow::{anyhow, bail, Context};
use aqsha_client::{Config, Credentials, Endpoints, TerminalId};
use clap::Args;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The sandbox merchant of the seed document (public test data), used by the built-in `local`
/// and `epay-test` profiles.
pub const SANDBOX_CLIENT_ID: &str = "test";
pub const SANDBOX_CLIENT_SECRET: &str = "yF587AV9Ms94qN2QShFzVR3vFnWkhjbAK3sG";
pub const SANDBOX_TERMINAL: &str = "67e34d63-102f-4bd1-898e-370781d0074d";
pub const LOCAL_URL: &str = "http://127.0.0.1:8080";

#[derive(Args, Clone, Debug)]
pub struct ConnArgs {
    /// Profile to use: a name from the profile file, or a built-in one (`local`, `epay-test`,
    /// `epay-test-epayment`, `epay-prod`). Default: the file's `default`, else `local`.
    #[arg(long, env = "AQSHA_PROFILE")]
    pub profile: Option<String>,
    /// Profile file (TOML). Default: `$AQSHA_CONFIG_DIR/profiles.toml`, else
    /// `$XDG_CONFIG_HOME/aqsha/profiles.toml`, else `~/.config/aqsha/profiles.toml`.
    #[arg(long, env = "AQSHA_PROFILE_FILE")]
    pub profile_file: Option<PathBuf>,
    /// Base URL of an Aqsha server (token at {url}/oauth2/token, API at {url}/...).
    #[arg(long, env = "AQSHA_URL")]
    pub url: Option<String>,
    /// Token endpoint URL, for a deployment with separate hosts (with --api-url).
    #[arg(long, env = "AQSHA_TOKEN_URL", requires = "api_url")]
    pub token_url: Option<String>,
    /// API base URL (e.g. https://testepay.homebank.kz/api), with --token-url.
    #[arg(long, env = "AQSHA_API_URL", requires = "token_url")]
    pub api_url: Option<String>,
    /// Merchant client_id.
    #[arg(long, env = "AQSHA_CLIENT_ID")]
    pub client_id: Option<String>,
    /// Merchant client_secret.
    #[arg(long, env = "AQSHA_CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: Option<String>,
    /// Terminal id used for transfers and status queries.
    #[arg(long, env = "AQSHA_TERMINAL")]
    pub terminal: Option<String>,
    /// Timeout of each HTTP call, in seconds.
    #[arg(long, env = "AQSHA_TIMEOUT")]
    pub timeout: Option<f64>,
    /// Print machine-readable JSON on stdout instead of text.
    #[arg(long)]
    pub json: bool,
}

/// One profile as written in the file; every field optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// `aqsha` (default when `url` is set), `epay-test`, `epay-test-epayment`, `epay-prod`.
    pub preset: Option<String>,
    pub url: Option<String>,
    pub token_url: Option<String>,
    pub api_url: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub terminal: Option<String>,
    pub timeout: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    default: Option<String>,
    #[serde(default)]
    profiles: BTreeMap<String, Profile>,
}

fn builtin(name: &str) -> Option<Profile> {
    let sandbox = |preset: &str, url: Option<&str>| Profile {
        preset: Some(preset.into()),
        url: url.map(str::to_string),
        client_id: Some(SANDBOX_CLIENT_ID.into()),
        client_secret: Some(SANDBOX_CLIENT_SECRET.into()),
        terminal: Some(SANDBOX_TERMINAL.into()),
        ..Default::default()
    };
    match name {
        "local" => Some(sandbox("aqsha", Some(LOCAL_URL))),
        "epay-test" => Some(sandbox("epay-test", None)),
        "epay-test-epayment" => Some(sandbox("epay-test-epayment", None)),
        "epay-prod" => Some(Profile {
            preset: Some("epay-prod".into()),
            ..Default::default()
        }),
        _ => None,
    }
}

fn default_profile_path() -> Option<PathBuf> {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(d) = env("AQSHA_CONFIG_DIR") {
        return Some(d.join("profiles.toml"));
    }
    if let Some(d) = env("XDG_CONFIG_HOME") {
        return Some(d.join("aqsha").join("profiles.toml"));
    }
    env("HOME").map(|h| h.join(".config").join("aqsha").join("profiles.toml"))
}

fn read_file(path: &Path) -> anyhow::Result<ProfileFile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read profile file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("profile file {}", path.display()))
}

/// The settings after every layer is applied.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub config: Config,
    pub json: bool,
}

impl ConnArgs {
    /// The profile (from the file, or a built-in), then the flags and environment variables
    /// over it, then the client configuration they make.
    pub fn resolve(&self) -> anyhow::Result<Resolved> {
        let (name, profile) = self.profile()?;
        let p = self.overridden(profile);
        let endpoints = endpoints(&name, &p)?;
        let client_id = p
            .client_id
            .ok_or_else(|| anyhow!("no client_id: use --client-id or AQSHA_CLIENT_ID"))?;
        let secret = p.client_secret.ok_or_else(|| {
            anyhow!("no client_secret: use --client-secret or AQSHA_CLIENT_SECRET")
        })?;
        let mut config = Config::new(endpoints, Credentials::new(client_id, secret));
        if let Some(t) = p.terminal.filter(|t| !t.trim().is_empty()) {
            config.terminal = Some(TerminalId::new(t)?);
        }
        if let Some(secs) = p.timeout {
            config.timeout = Duration::try_from_secs_f64(secs)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| anyhow!("timeout must be a positive number of seconds"))?;
            config.connect_timeout = config.connect_timeout.min(config.timeout);
        }
        Ok(Resolved {
            config,
            json: self.json,
        })
    }

    /// The chosen profile and its name: `--profile`, else the file's default, else `local`.
    fn profile(&self) -> anyhow::Result<(String, Profile)> {
        // The profile file: named explicitly (must exist) or at the default place (optional).
        let file = match &self.profile_file {
            Some(p) => Some(read_file(p)?),
            None => match default_profile_path() {
                Some(p) if p.exists() => Some(read_file(&p)?),
                _ => None,
            },
        };
        let file = file.unwrap_or_default();
        let name = self
            .profile
            .clone()
            .or_else(|| file.default.clone())
            .unwrap_or_else(|| "local".into());
        let profile = match file.profiles.get(&name) {
            Some(p) => p.clone(),
            None => builtin(&name).ok_or_else(|| {
                anyhow!(
                    "no profile {name:?}: not in the profile file, and not a built-in \
                     (local, epay-test, epay-test-epayment, epay-prod)"
                )
            })?,
        };
        Ok((name, profile))
    }

    /// The profile with the flags and environment variables applied over it.
    fn overridden(&self, mut p: Profile) -> Profile {
        if let Some(u) = &self.url {
            p.url = Some(u.clone());
            p.preset = Some("aqsha".into());
            p.token_url = None;
            p.api_url = None;
        }
        if let (Some(t), Some(a)) = (&self.token_url, &self.api_url) {
            p.token_url = Some(t.clone());
            p.api_url = Some(a.clone());
            p.url = None;
        }
        for (slot, v) in [
            (&mut p.client_id, &self.client_id),
            (&mut p.client_secret, &self.client_secret),
            (&mut p.terminal, &self.terminal),
        ] {
            if let Some(v) = v {
                *slot = Some(v.clone());
            }
        }
        if self.timeout.is_some() {
            p.timeout = self.timeout;
        }
        p
    }
}

/// The endpoints a profile names: explicit URLs, or a preset.
fn endpoints(name: &str, p: &Profile) -> anyhow::Result<Endpoints> {
    Ok(match (&p.token_url, &p.api_url) {
        (Some(t), Some(a)) => Endpoints::custom(t, a)?,
        (Some(_), None) | (None, Some(_)) => {
            bail!("profile {name:?}: token_url and api_url go together")
        }
        (None, None) => match p.preset.as_deref().unwrap_or("aqsha") {
            "aqsha" => Endpoints::aqsha(p.url.as_deref().unwrap_or(LOCAL_URL))?,
            "epay-test" => Endpoints::epay_test(),
            "epay-test-epayment" => Endpoints::epay_test_epayment(),
            "epay-prod" => Endpoints::epay_production(),
            other => bail!(
                "profile {name:?}: unknown preset {other:?} \
                 (aqsha, epay-test, epay-test-epayment, epay-prod)"
            ),
        },
    })
}
