//! The merchant API's documented objects (seed 000's names): what handlers
//! answer, and — for the OpenAPI document — what requests carry. Field names
//! are the seed's camelCase.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct V1MerchantUpsertRequest {
    #[schema(example = "gym-a")]
    pub merchant_id: String,
    #[schema(example = "Gym A")]
    pub display_name: Option<String>,
    pub active: Option<bool>,
    #[schema(example = 5000)]
    pub sms_limit: Option<i64>,
    #[schema(example = 1000)]
    pub voice_minutes_limit: Option<i64>,
    #[schema(example = 25000)]
    pub email_limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    pub sms_limit: i64,
    pub voice_minutes_limit: i64,
    pub email_limit: i64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Credits {
    pub sms_credits: i64,
    pub voice_minutes_credits: i64,
    pub email_credits: i64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    pub sms_used: i64,
    pub voice_used: i64,
    pub email_used: i64,
    /// The first day of the usage period (the month), `YYYY-MM-DD`.
    pub period_start: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MerchantView {
    pub merchant_id: String,
    pub display_name: String,
    pub active: bool,
    pub limits: Limits,
    pub credits: Credits,
    pub usage: Usage,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct V1MerchantConsentRequest {
    pub merchant_id: String,
    /// `SMS`, `VOICE` or `EMAIL`.
    #[schema(example = "SMS")]
    pub channel: String,
    /// An E.164 number (SMS, VOICE) or an email address (EMAIL).
    #[schema(example = "+18135551234")]
    pub contact: String,
    /// `OPT_IN` or `OPT_OUT`.
    #[schema(example = "OPT_IN")]
    pub status: String,
    #[schema(example = "checkout-form")]
    pub source: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConsentView {
    pub merchant_id: String,
    pub channel: String,
    pub contact: String,
    pub status: String,
    pub source: Option<String>,
    pub updated_at: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct V1OmniSmsSendRequest {
    pub merchant_id: String,
    #[schema(example = "+18135551234")]
    pub to: String,
    #[schema(example = "Your OTP is 123456")]
    pub message: String,
    /// `OTP`, `REMINDER`, `TRANSACTIONAL` or `MARKETING`.
    #[serde(rename = "type")]
    #[schema(example = "OTP")]
    pub kind: String,
    /// The number to send from (default: the provider's configured one).
    pub from: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct V1OmniVoiceSendRequest {
    pub merchant_id: String,
    #[schema(example = "+18135551234")]
    pub to: String,
    #[schema(example = "Your appointment is tomorrow at 10 AM")]
    pub text: String,
    #[serde(rename = "type")]
    #[schema(example = "REMINDER")]
    pub kind: String,
    pub record: Option<bool>,
    /// Seconds to ring before giving up (5 to 120; default 30).
    #[schema(example = 30)]
    pub timeout_seconds: Option<u64>,
    /// The recipient's IANA time zone for the calling window (default: from the number).
    #[schema(example = "America/New_York")]
    pub time_zone: Option<String>,
    /// Speak the text twice.
    pub repeat: Option<bool>,
    /// The caller ID the recipient sees (default: the trunk's).
    pub caller_id: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct V1OmniEmailSendRequest {
    pub merchant_id: String,
    #[schema(example = "member@example.com")]
    pub to: String,
    #[schema(example = "Payment reminder")]
    pub subject: String,
    /// HTML (or plain text).
    #[schema(example = "<p>Your membership renews tomorrow.</p>")]
    pub body: String,
    #[serde(rename = "type")]
    #[schema(example = "TRANSACTIONAL")]
    pub kind: String,
    /// A plain-text part (default: made from the HTML).
    pub text: Option<String>,
    pub reply_to: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct V1EmailSendRequest {
    pub merchant_id: String,
    pub to: String,
    pub subject: String,
    /// HTML (`html` is taken as a synonym).
    pub body: String,
    /// Default `TRANSACTIONAL`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub text: Option<String>,
    pub reply_to: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DispatchResponse {
    pub merchant_id: String,
    pub channel: String,
    pub message_id: String,
    /// `QUEUED` (or `SCHEDULED`: a voice message outside the calling window).
    pub status: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct V1MessageResponse {
    pub success: bool,
    pub message_id: String,
    pub status: String,
    pub channel: String,
    pub to: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageEventView {
    pub status: String,
    pub at: String,
    pub provider: Option<String>,
    pub detail: Option<String>,
}

/// A message and its lifecycle.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageView {
    pub message_id: String,
    pub merchant_id: String,
    pub channel: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub to: String,
    pub status: String,
    /// The provider has given its last word (or the switch gave up).
    pub final_state: bool,
    pub provider: Option<String>,
    pub provider_message_id: Option<String>,
    pub attempts: i64,
    pub units: i64,
    pub error: Option<String>,
    /// When a SCHEDULED or RETRY message goes next.
    pub next_attempt_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub events: Vec<MessageEventView>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct V1MerchantUpgradeRequest {
    pub merchant_id: String,
    #[schema(example = "SMS")]
    pub channel: String,
    #[schema(example = 2500)]
    pub units: i64,
    #[schema(example = 4900)]
    pub amount_cents: i64,
    pub payment_method_id: Option<String>,
    pub reference_id: Option<String>,
    pub note: Option<String>,
    #[schema(example = "USD")]
    pub currency: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MerchantUpgradeView {
    pub merchant_id: String,
    pub channel: String,
    pub units_requested: i64,
    pub amount_cents: i64,
    pub currency: String,
    pub payment_id: String,
    /// `PENDING` until the payment provider confirms, then `CONFIRMED`.
    pub payment_status: String,
    pub fulfilled: bool,
    /// The merchant's credits on the channel now.
    pub remaining_credits: i64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertView {
    pub alert_id: String,
    pub merchant_id: Option<String>,
    /// `USAGE_80`, `USAGE_100`, `CREDITS_EXHAUSTED`, `PROVIDER_FAILURE_RATE`, `PROVIDER_DOWN`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `WARNING` or `CRITICAL`.
    pub severity: String,
    pub channel: Option<String>,
    pub message: String,
    pub created_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct V1UsageReportResponse {
    pub from: String,
    pub to: String,
    pub total_sms_count: i64,
    pub total_email_count: i64,
    pub total_voice_count: i64,
    pub total_voice_minutes: i64,
    /// What the providers cost (the seed's name for it).
    pub aws_cost: f64,
    pub hq_markup: f64,
    pub final_charges: f64,
    /// `PROVISIONAL` while a message in range lacks a final provider outcome, else `FINAL`.
    pub freshness_state: String,
    pub freshness_reason: String,
}

/// A messaging (10DLC) record.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessagingRecordView {
    pub id: String,
    pub merchant_id: String,
    /// `BRAND`, `CAMPAIGN` or `NUMBER`.
    pub kind: String,
    pub status: String,
    pub status_reason: Option<String>,
    /// A campaign's brand, a number's campaign.
    pub parent_id: Option<String>,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    pub created_at: String,
    pub updated_at: String,
}

/// A merchant's 10DLC standing.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessagingStatusView {
    pub merchant_id: String,
    pub brand: Option<MessagingRecordView>,
    pub campaigns: Vec<MessagingRecordView>,
    pub numbers: Vec<MessagingRecordView>,
    /// A number is ACTIVE on an APPROVED campaign of a VERIFIED brand.
    pub ready: bool,
}

/// The error envelope.
#[derive(Debug, Serialize, ToSchema)]
pub struct V1ErrorBody {
    pub error: V1ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct V1ErrorDetail {
    #[schema(example = "VALIDATION_ERROR")]
    pub code: String,
    pub message: String,
    pub field: Option<String>,
}
