//! The merchant messaging's settings (`switchyard serve` flags): providers'
//! credentials and addresses, where their callbacks reach the switch, the
//! dispatch workers' rate limits and retries, and the price list.

use std::path::PathBuf;

use clap::Args;

#[derive(Args, Debug, Clone, Default)]
pub struct MerchantArgs {
    /// Twilio account SID (SMS in LIVE mode through Twilio).
    #[arg(long, env = "SWITCHYARD_TWILIO_ACCOUNT_SID")]
    pub twilio_account_sid: Option<String>,
    /// Twilio auth token (requests and callback signatures).
    #[arg(long, env = "SWITCHYARD_TWILIO_AUTH_TOKEN", hide_env_values = true)]
    pub twilio_auth_token: Option<String>,
    /// The number Twilio sends from.
    #[arg(long, env = "SWITCHYARD_TWILIO_FROM")]
    pub twilio_from: Option<String>,
    /// Twilio's API base URL.
    #[arg(
        long,
        env = "SWITCHYARD_TWILIO_URL",
        default_value = "https://api.twilio.com"
    )]
    pub twilio_url: String,
    /// Telnyx API key (SMS in LIVE mode through Telnyx).
    #[arg(long, env = "SWITCHYARD_TELNYX_API_KEY", hide_env_values = true)]
    pub telnyx_api_key: Option<String>,
    /// The number Telnyx sends from.
    #[arg(long, env = "SWITCHYARD_TELNYX_FROM")]
    pub telnyx_from: Option<String>,
    /// Telnyx's API base URL.
    #[arg(
        long,
        env = "SWITCHYARD_TELNYX_URL",
        default_value = "https://api.telnyx.com"
    )]
    pub telnyx_url: String,
    /// Telnyx's webhook public key (base64 Ed25519), to check its callbacks' signatures.
    #[arg(long, env = "SWITCHYARD_TELNYX_PUBLIC_KEY")]
    pub telnyx_public_key: Option<String>,
    /// SMTP server for email in LIVE mode: `smtp://host:port` (STARTTLS when
    /// offered), `smtps://host:port` (TLS), with `user:password@` if it needs a login.
    #[arg(long, env = "SWITCHYARD_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The From of merchant email.
    #[arg(
        long,
        env = "SWITCHYARD_EMAIL_FROM",
        default_value = "Switchyard <noreply@switchyard.invalid>"
    )]
    pub email_from: String,
    /// The base URL providers call back on (their status callbacks); default:
    /// `http://<public ip>:<http port>`.
    #[arg(long, env = "SWITCHYARD_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Messages per second each channel's lane hands to providers.
    #[arg(long, env = "SWITCHYARD_DISPATCH_RATE", default_value_t = 1000)]
    pub dispatch_rate: u32,
    /// Messages per second one merchant may have handed to providers.
    #[arg(long, env = "SWITCHYARD_DISPATCH_MERCHANT_RATE", default_value_t = 200)]
    pub dispatch_merchant_rate: u32,
    /// Attempts before a message goes to the dead-letter state.
    #[arg(long, env = "SWITCHYARD_DISPATCH_MAX_ATTEMPTS", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..=20))]
    pub dispatch_max_attempts: u32,
    /// How long the simulator takes to report a final outcome (ms).
    #[arg(long, env = "SWITCHYARD_SIMULATOR_DELAY_MS", default_value_t = 200)]
    pub simulator_delay_ms: u64,
    /// Seconds between a 10DLC record's simulated status steps.
    #[arg(long, env = "SWITCHYARD_MESSAGING_REVIEW_SECS", default_value_t = 2)]
    pub messaging_review_secs: u64,
    /// Requests per second one merchant key may make to `/api/v1` (bursts of twice that).
    #[arg(long, env = "SWITCHYARD_MERCHANT_API_RATE", default_value_t = 20_000)]
    pub merchant_api_rate: u32,
    /// The price list (TOML, docs/merchant-api.md); default: the built-in one.
    #[arg(long, env = "SWITCHYARD_PRICING")]
    pub pricing: Option<PathBuf>,
}
