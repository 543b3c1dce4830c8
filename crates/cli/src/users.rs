//! `huiyin user …`: staff accounts and their unit memberships, and the authentication options
//! of `huiyin serve` (cookies, session timeouts, the SMS gateway).

use std::io::Read;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use huiyin_app::auth::AuthError;
use huiyin_app::{App, Config};

use crate::DataArgs;

#[derive(Subcommand)]
pub enum UserCmd {
    /// Add a staff user with roles in one unit. Without --password-stdin a password is
    /// generated, printed once, and must be changed at first login.
    Add {
        #[command(flatten)]
        data: DataArgs,
        /// Login name: 3–32 of a–z, 0–9, '.', '_', '-'.
        #[arg(long)]
        username: String,
        /// The person's name as shown (姓名).
        #[arg(long)]
        name: String,
        /// The unit the user works in.
        #[arg(long)]
        unit: String,
        /// Roles (repeat or comma-separate): registrar, handler, unit_head, leader, supervisor,
        /// proxy, administrator, auditor, analyst.
        #[arg(long = "role", value_delimiter = ',', required = true)]
        roles: Vec<String>,
        /// Read the password from standard input (one line) instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Give a user roles in a unit (creating the membership).
    Grant {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long)]
        username: String,
        #[arg(long)]
        unit: String,
        #[arg(long = "role", value_delimiter = ',', required = true)]
        roles: Vec<String>,
    },
    /// Take roles away in a unit; without --role, remove the membership.
    Revoke {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long)]
        username: String,
        #[arg(long)]
        unit: String,
        #[arg(long = "role", value_delimiter = ',')]
        roles: Vec<String>,
    },
    /// Disable a user (ends their sessions at once); --enable undoes it.
    Disable {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long)]
        username: String,
        #[arg(long)]
        enable: bool,
    },
    /// Set a new password (generated unless --password-stdin), lift a lockout and end the
    /// user's sessions; --reset-totp also removes a lost second factor.
    ResetPassword {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long)]
        username: String,
        #[arg(long)]
        password_stdin: bool,
        #[arg(long)]
        reset_totp: bool,
    },
}

/// Authentication options of `huiyin serve`.
#[derive(Args, Clone, Debug)]
pub struct AuthArgs {
    /// Always mark cookies Secure and use the `__Host-` names (set this when TLS ends at a
    /// proxy that does not send `X-Forwarded-Proto: https`).
    #[arg(long, env = "HUIYIN_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// Minutes without use after which a staff session ends.
    #[arg(long, default_value_t = 30)]
    pub session_idle_minutes: u32,
    /// Hours after login at which a staff session ends, used or not.
    #[arg(long, default_value_t = 12)]
    pub session_max_hours: u32,
    /// Consecutive failed logins that lock a user out.
    #[arg(long, default_value_t = 5)]
    pub lockout_failures: u32,
    /// Minutes a lockout lasts.
    #[arg(long, default_value_t = 15)]
    pub lockout_minutes: u32,
    /// The HTTP SMS gateway (POST JSON, HMAC-SM3 signed); without it, SMS codes are only
    /// written to the log (development).
    #[arg(long, env = "HUIYIN_SMS_URL")]
    pub sms_url: Option<String>,
    /// The gateway's shared secret (from the environment, so it is not visible in `ps`).
    #[arg(long, env = "HUIYIN_SMS_SECRET", hide_env_values = true)]
    pub sms_secret: Option<String>,
}

impl AuthArgs {
    /// Applies the options to the application settings.
    pub fn apply(&self, mut config: Config) -> Result<Config> {
        if self.session_idle_minutes == 0 || self.session_max_hours == 0 {
            bail!("session timeouts must be at least 1");
        }
        if self.lockout_failures == 0 {
            bail!("--lockout-failures must be at least 1");
        }
        let auth = &mut config.auth;
        auth.secure_cookies = self.secure_cookies;
        auth.idle_timeout = chrono::Duration::minutes(i64::from(self.session_idle_minutes));
        auth.absolute_timeout = chrono::Duration::hours(i64::from(self.session_max_hours));
        auth.max_failures = i64::from(self.lockout_failures);
        auth.lockout = chrono::Duration::minutes(i64::from(self.lockout_minutes));
        match (&self.sms_url, &self.sms_secret) {
            (Some(url), Some(secret)) => {
                let sender = huiyin_app::sms::HttpSms::new(url, secret.as_bytes())
                    .context("SMS gateway settings")?;
                config.sms = Arc::new(sender);
                tracing::info!(url, "SMS codes go through the HTTP gateway");
            }
            (Some(_), None) => bail!("--sms-url needs HUIYIN_SMS_SECRET"),
            (None, _) => {
                tracing::warn!("no SMS gateway configured: SMS codes are only written to the log");
            }
        }
        if !self.secure_cookies {
            tracing::info!(
                "cookies are Secure only for requests with X-Forwarded-Proto: https; use --secure-cookies behind TLS"
            );
        }
        Ok(config)
    }
}

/// Refuses unknown token scopes with the list of known ones.
pub fn check_scopes(scopes: &[String]) -> Result<()> {
    for s in scopes {
        if !huiyin_app::auth::SCOPES.contains(&s.as_str()) {
            bail!(
                "unknown scope `{s}`; use {}",
                huiyin_app::auth::SCOPES.join(", ")
            );
        }
    }
    Ok(())
}

fn read_password() -> Result<String> {
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .context("cannot read the password from standard input")?;
    let p = s.lines().next().unwrap_or("").to_string();
    if p.is_empty() {
        bail!("no password on standard input");
    }
    Ok(p)
}

/// Turns an authentication error into a message for the terminal.
fn explain(e: AuthError) -> anyhow::Error {
    match e {
        AuthError::PasswordPolicy(rules) => anyhow::anyhow!(
            "password refused: {}",
            rules
                .iter()
                .map(|r| format!("{} ({})", r.message, r.code))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        AuthError::App(huiyin_app::AppError::Invalid(fields)) => anyhow::anyhow!(
            "{}",
            fields
                .iter()
                .map(|(f, e)| format!("{f}: {} ({})", e.message, e.code))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        AuthError::App(huiyin_app::AppError::Conflict(m)) => anyhow::anyhow!("{m}"),
        other => anyhow::anyhow!("{other}"),
    }
}

async fn app(data: &DataArgs) -> Result<App> {
    let store = data.open().await?;
    Ok(App::new(store, Config::default()))
}

pub async fn run(command: UserCmd) -> Result<ExitCode> {
    match command {
        UserCmd::Add {
            data,
            username,
            name,
            unit,
            roles,
            password_stdin,
        } => {
            let password = password_stdin.then(read_password).transpose()?;
            let app = app(&data).await?;
            let created = app
                .add_user(&username, &name, &unit, &roles, password.as_deref())
                .await
                .map_err(explain)?;
            eprintln!(
                "user {} added to {unit} ({})",
                created.user.username,
                roles.join(",")
            );
            if let Some(p) = created.generated_password {
                eprintln!("initial password (shown once; must be changed at first login):");
                println!("{p}");
            }
        }
        UserCmd::Grant {
            data,
            username,
            unit,
            roles,
        } => {
            let app = app(&data).await?;
            let now = app.grant(&username, &unit, &roles).await.map_err(explain)?;
            println!("{username} in {unit}: {}", now.join(","));
        }
        UserCmd::Revoke {
            data,
            username,
            unit,
            roles,
        } => {
            let app = app(&data).await?;
            let now = app
                .revoke(&username, &unit, &roles)
                .await
                .map_err(explain)?;
            if now.is_empty() {
                println!("{username} is no longer a member of {unit}");
            } else {
                println!("{username} in {unit}: {}", now.join(","));
            }
        }
        UserCmd::Disable {
            data,
            username,
            enable,
        } => {
            let app = app(&data).await?;
            app.set_user_disabled(&username, !enable)
                .await
                .map_err(explain)?;
            println!("{username} {}", if enable { "enabled" } else { "disabled" });
        }
        UserCmd::ResetPassword {
            data,
            username,
            password_stdin,
            reset_totp,
        } => {
            let password = password_stdin.then(read_password).transpose()?;
            let app = app(&data).await?;
            let generated = app
                .reset_password(&username, password.as_deref(), reset_totp)
                .await
                .map_err(explain)?;
            eprintln!("password of {username} reset; their sessions have ended");
            if let Some(p) = generated {
                eprintln!("new password (shown once; must be changed at next login):");
                println!("{p}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
