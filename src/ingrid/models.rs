//! Ingrid's resources as this plugin reads them, and the bodies of its two writes (modelled
//! shapes, see the catalog). Money is parsed exactly from the JSON number's digits, never
//! through f64.

use crate::prelude::*;

use rust_decimal::Decimal;
use serde::de::{Deserializer, Error as _, Unexpected};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// A resource listed with the `afterId` keyset cursor.
pub trait Keyed {
    fn key(&self) -> u64;
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    pub id: u64,
    pub order_number: String,
    pub created_at: String,
    pub currency_code: String,
    #[serde(default)]
    pub customer: Option<Customer>,
    #[serde(default)]
    pub line_items: Vec<LineItem>,
    #[serde(deserialize_with = "exact_amount")]
    pub total_amount: Decimal,
}

/// Personal data written by the shopper: shown fenced, never as instructions.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Customer {
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LineItem {
    pub id: u64,
    #[serde(default)]
    pub product_id: Option<u64>,
    #[serde(default)]
    pub variant_id: Option<u64>,
    #[serde(default)]
    pub sku: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    pub quantity: u32,
    #[serde(deserialize_with = "exact_amount")]
    pub unit_price: Decimal,
}

impl Order {
    pub fn unit_count(&self) -> u32 {
        self.line_items
            .iter()
            .fold(0, |units, item| units.saturating_add(item.quantity))
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Return {
    pub id: u64,
    pub order_id: u64,
    #[serde(default)]
    pub order_number: Option<String>,
    pub status: String,
    #[serde(default)]
    pub resolution: Option<String>,
    pub created_at: String,
    #[serde(default)]
    pub updated_at: Option<String>,
    pub currency_code: String,
    #[serde(default)]
    pub items: Vec<ReturnItem>,
    #[serde(default)]
    pub tracking_number: Option<String>,
    #[serde(default)]
    pub remark: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReturnItem {
    pub id: u64,
    #[serde(default)]
    pub line_item_id: Option<u64>,
    #[serde(default)]
    pub sku: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    pub quantity: u32,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(deserialize_with = "exact_amount")]
    pub unit_refund_amount: Decimal,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundTransaction {
    pub id: u64,
    pub return_id: u64,
    pub order_id: u64,
    #[serde(deserialize_with = "exact_amount")]
    pub amount: Decimal,
    pub currency_code: String,
    pub status: String,
    #[serde(default)]
    pub method: Option<String>,
    pub created_at: String,
    #[serde(default)]
    pub completed_at: Option<String>,
    #[serde(default)]
    pub external_reference: Option<String>,
}

impl Keyed for Order {
    fn key(&self) -> u64 {
        self.id
    }
}

impl Keyed for Return {
    fn key(&self) -> u64 {
        self.id
    }
}

impl Keyed for RefundTransaction {
    fn key(&self) -> u64 {
        self.id
    }
}

/// Body of `POST /merchant/return/{id}/returned-items`. Field order is the byte order of the
/// planned write, so it must not change between a proposal and its replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReturnedItemsReport {
    pub items: Vec<ReportedItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportedItem {
    pub return_item_id: u64,
    pub quantity: u32,
    pub approved: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remark: Option<String>,
}

/// Body of `POST /merchant/refund-transaction/{id}/externally-refunded`. Read back from an
/// approved write to replay its fixed `refundedAt`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternallyRefunded {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_reference: Option<String>,
    pub refunded_at: String,
}

impl Return {
    pub fn item(&self, id: u64) -> Option<&ReturnItem> {
        self.items.iter().find(|item| item.id == id)
    }

    /// The refund a report would create: Σ approved quantity × unit refund amount. Items
    /// unknown to this return count nothing (the caller refuses those first).
    pub fn approved_refund(&self, report: &ReturnedItemsReport) -> Decimal {
        report
            .items
            .iter()
            .filter(|reported| reported.approved)
            .filter_map(|reported| {
                self.item(reported.return_item_id)
                    .map(|item| line_amount(item.unit_refund_amount, reported.quantity))
            })
            .fold(Decimal::ZERO, Decimal::saturating_add)
    }

    /// The value of the items being returned: Σ quantity × unit refund amount.
    pub fn items_value(&self) -> Decimal {
        self.items
            .iter()
            .map(|item| line_amount(item.unit_refund_amount, item.quantity))
            .fold(Decimal::ZERO, Decimal::saturating_add)
    }

    pub fn item_quantity(&self) -> u32 {
        self.items
            .iter()
            .fold(0, |units, item| units.saturating_add(item.quantity))
    }
}

/// Unit amount × quantity. Arithmetic on amounts from Ingrid saturates: only a malformed answer
/// could overflow, and that must not trap the component.
pub fn line_amount(unit_amount: Decimal, quantity: u32) -> Decimal {
    unit_amount.saturating_mul(Decimal::from(quantity))
}

/// Error text kept from rust_decimal's serde support, which this replaces.
const AMOUNT_EXPECTED: &str = "a Decimal type representing a fixed-point number";

/// An amount parsed from the JSON value's own text, never through f64. The raw text spares
/// serde_json's `arbitrary_precision` feature (and its size); numbers and numeric strings parse
/// as rust_decimal's `arbitrary_precision` parsed them.
fn exact_amount<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
    let raw = Box::<RawValue>::deserialize(deserializer)?;
    let text = raw.get();
    let kind = match text.as_bytes().first() {
        Some(b'"') => {
            let text: String = serde_json::from_str(text).map_err(D::Error::custom)?;
            return parse_amount(&text)
                .map_err(|_| D::Error::invalid_value(Unexpected::Str(&text), &AMOUNT_EXPECTED));
        }
        Some(b'n') => Unexpected::Unit,
        Some(b't') => Unexpected::Bool(true),
        Some(b'f') => Unexpected::Bool(false),
        Some(b'[') => Unexpected::Seq,
        // As before: an empty object is a map, any other one fails on its first key.
        Some(b'{') if text.trim_start_matches('{').trim_start().starts_with('}') => Unexpected::Map,
        Some(b'{') => return Err(D::Error::custom("expected field with custom name")),
        _ => return parse_amount(text).map_err(D::Error::custom),
    };
    Err(D::Error::invalid_type(kind, &AMOUNT_EXPECTED))
}

/// Plain decimal notation, else scientific ("1.5e2"). An amount with more digits than a
/// decimal holds is refused, never rounded (found by `fuzz.rs`).
fn parse_amount(text: &str) -> Result<Decimal, rust_decimal::Error> {
    Decimal::from_str_exact(text).or_else(|_| Decimal::from_scientific(text))
}

/// Money as a decimal string in major units with at least two decimals ("499.00").
pub fn money(amount: Decimal) -> String {
    let mut amount = amount;
    if amount.scale() < 2 {
        amount.rescale(2);
    }
    amount.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_parsed_exactly_and_printed_with_two_decimals() {
        let json = r#"{"id":1,"orderId":2,"status":"IN_TRANSIT","createdAt":"2026-01-01T00:00:00Z",
            "currencyCode":"SEK","items":[
              {"id":3,"quantity":3,"unitRefundAmount":0.1},
              {"id":4,"quantity":1,"unitRefundAmount":1299.00},
              {"id":5,"quantity":1,"unitRefundAmount":10000000000000000.01}]}"#;
        let parsed: Return = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}"));
        // 0.1 * 3 is exactly 0.3 here, unlike f64.
        assert_eq!(money(parsed.items_value()), "10000000000001299.31");
        assert_eq!(money(Decimal::from(5)), "5.00");
        assert_eq!(parsed.item_quantity(), 5);
    }

    #[test]
    fn amounts_parse_from_their_json_text_as_rust_decimal_did() {
        let amount = |json: &str| {
            let body = format!(
                r#"{{"id":1,"returnId":2,"orderId":3,"amount":{json},"currencyCode":"SEK","status":"PENDING","createdAt":"2026-01-01T00:00:00Z"}}"#
            );
            serde_json::from_str::<RefundTransaction>(&body)
                .map(|refund| refund.amount.to_string())
                .map_err(|error| error.to_string())
        };
        assert_eq!(amount("12.50"), Ok("12.50".into()));
        assert_eq!(amount("-0.10"), Ok("-0.10".into()));
        assert_eq!(amount("1.5e2"), Ok("150".into()));
        assert_eq!(amount("5.06E-6"), Ok("0.00000506".into()));
        assert_eq!(amount(r#""99.90""#), Ok("99.90".into()));
        let expected = "expected a Decimal type representing a fixed-point number";
        for (json, found) in [
            ("null", "null"),
            ("true", "boolean `true`"),
            ("[1]", "sequence"),
            ("{}", "map"),
            (r#"{"a":1}"#, "expected field with custom name"),
            (r#""ten""#, "string \"ten\""),
        ] {
            let error = amount(json).err().unwrap_or_default();
            assert!(
                error.contains(&format!("{found}, {expected}")) || error.starts_with(found),
                "{json}: {error}"
            );
        }
        assert!(amount("1e400").is_err());
        assert!(amount("79228162514264337593543950336").is_err());
    }

    #[test]
    fn absurd_amounts_and_quantities_saturate_instead_of_trapping() {
        let json = r#"{"id":1,"orderId":2,"status":"IN_TRANSIT","createdAt":"2026-01-01T00:00:00Z",
            "currencyCode":"SEK","items":[
              {"id":3,"quantity":4294967295,"unitRefundAmount":79228162514264337593543950335},
              {"id":4,"quantity":4294967295,"unitRefundAmount":1}]}"#;
        let parsed: Return = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed.items_value(), Decimal::MAX);
        assert_eq!(parsed.item_quantity(), u32::MAX);
    }

    #[test]
    fn the_approved_refund_counts_only_approved_quantities() {
        let json = r#"{"id":1,"orderId":2,"status":"IN_TRANSIT","createdAt":"2026-01-01T00:00:00Z",
            "currencyCode":"SEK","items":[
              {"id":3,"quantity":3,"unitRefundAmount":0.1},
              {"id":4,"quantity":1,"unitRefundAmount":1299.00}]}"#;
        let parsed: Return = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}"));
        let report = ReturnedItemsReport {
            items: vec![
                ReportedItem {
                    return_item_id: 3,
                    quantity: 2,
                    approved: true,
                    remark: None,
                },
                ReportedItem {
                    return_item_id: 4,
                    quantity: 1,
                    approved: false,
                    remark: Some("scratched".into()),
                },
            ],
        };
        assert_eq!(money(parsed.approved_refund(&report)), "0.20");
    }

    #[test]
    fn write_bodies_keep_their_field_order_and_omit_absent_values() {
        let report = ReturnedItemsReport {
            items: vec![ReportedItem {
                return_item_id: 70001,
                quantity: 1,
                approved: true,
                remark: None,
            }],
        };
        assert_eq!(
            serde_json::to_string(&report).unwrap_or_default(),
            r#"{"items":[{"returnItemId":70001,"quantity":1,"approved":true}]}"#
        );
        let marked = ExternallyRefunded {
            external_reference: Some("PSP-1".into()),
            refunded_at: "2026-11-20T10:00:00Z".into(),
        };
        assert_eq!(
            serde_json::to_string(&marked).unwrap_or_default(),
            r#"{"externalReference":"PSP-1","refundedAt":"2026-11-20T10:00:00Z"}"#
        );
    }
}
