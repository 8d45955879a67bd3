//! Ingrid's resources as this plugin reads them, and the bodies of its two writes (modelled
//! shapes, see the catalog). Money is parsed exactly from the JSON number's digits, never
//! through f64.
//!
//! The resources are read from a [`json`](super::json) tree by hand (`read` below), not with a
//! serde derive each: the derives' visitors were a large share of the component. A resource's
//! `Deserialize` parses its JSON text once and reads the fields it models; others are ignored.

use crate::prelude::*;

use serde::{Deserialize, Deserializer, Serialize};

use super::json::{self, Fields, Json, Read};
pub use crate::money::{Money, Overflow};

/// A resource listed with the `afterId` keyset cursor.
pub trait Keyed {
    fn key(&self) -> u64;
}

#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    pub id: u64,
    pub order_number: String,
    pub created_at: String,
    pub currency_code: String,
    pub customer: Option<Customer>,
    pub line_items: Vec<LineItem>,
    pub total_amount: Money,
}

/// Personal data written by the shopper: shown fenced, never as instructions.
#[derive(Debug, Clone, PartialEq)]
pub struct Customer {
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LineItem {
    pub id: u64,
    pub product_id: Option<u64>,
    pub variant_id: Option<u64>,
    pub sku: Option<String>,
    pub title: Option<String>,
    pub quantity: u32,
    pub unit_price: Money,
}

impl Order {
    pub fn unit_count(&self) -> u32 {
        self.line_items
            .iter()
            .fold(0, |units, item| units.saturating_add(item.quantity))
    }
}

impl Read for Order {
    fn read(mut fields: Fields) -> Result<Order, String> {
        Ok(Order {
            id: fields.u64("id")?,
            order_number: fields.string("orderNumber")?,
            created_at: fields.string("createdAt")?,
            currency_code: fields.string("currencyCode")?,
            customer: fields.opt_object("customer")?,
            line_items: fields.objects("lineItems")?,
            total_amount: fields.money("totalAmount")?,
        })
    }
}

impl Read for Customer {
    fn read(mut fields: Fields) -> Result<Customer, String> {
        Ok(Customer {
            email: fields.opt_string("email")?,
            first_name: fields.opt_string("firstName")?,
            last_name: fields.opt_string("lastName")?,
        })
    }
}

impl Read for LineItem {
    fn read(mut fields: Fields) -> Result<LineItem, String> {
        Ok(LineItem {
            id: fields.u64("id")?,
            product_id: fields.opt_u64("productId")?,
            variant_id: fields.opt_u64("variantId")?,
            sku: fields.opt_string("sku")?,
            title: fields.opt_string("title")?,
            quantity: fields.u32("quantity")?,
            unit_price: fields.money("unitPrice")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Return {
    pub id: u64,
    pub order_id: u64,
    pub order_number: Option<String>,
    pub status: String,
    pub resolution: Option<String>,
    pub created_at: String,
    pub updated_at: Option<String>,
    /// Modelled (M16): when the return became COMPLETED; null before.
    pub completed_at: Option<String>,
    pub currency_code: String,
    pub items: Vec<ReturnItem>,
    pub tracking_number: Option<String>,
    pub remark: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReturnItem {
    pub id: u64,
    pub line_item_id: Option<u64>,
    pub sku: Option<String>,
    pub title: Option<String>,
    pub quantity: u32,
    pub reason: Option<String>,
    pub comment: Option<String>,
    pub status: Option<String>,
    pub unit_refund_amount: Money,
}

impl Read for Return {
    fn read(mut fields: Fields) -> Result<Return, String> {
        Ok(Return {
            id: fields.u64("id")?,
            order_id: fields.u64("orderId")?,
            order_number: fields.opt_string("orderNumber")?,
            status: fields.string("status")?,
            resolution: fields.opt_string("resolution")?,
            created_at: fields.string("createdAt")?,
            updated_at: fields.opt_string("updatedAt")?,
            completed_at: fields.opt_string("completedAt")?,
            currency_code: fields.string("currencyCode")?,
            items: fields.objects("items")?,
            tracking_number: fields.opt_string("trackingNumber")?,
            remark: fields.opt_string("remark")?,
        })
    }
}

impl Read for ReturnItem {
    fn read(mut fields: Fields) -> Result<ReturnItem, String> {
        Ok(ReturnItem {
            id: fields.u64("id")?,
            line_item_id: fields.opt_u64("lineItemId")?,
            sku: fields.opt_string("sku")?,
            title: fields.opt_string("title")?,
            quantity: fields.u32("quantity")?,
            reason: fields.opt_string("reason")?,
            comment: fields.opt_string("comment")?,
            status: fields.opt_string("status")?,
            unit_refund_amount: fields.money("unitRefundAmount")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RefundTransaction {
    pub id: u64,
    pub return_id: u64,
    pub order_id: u64,
    pub amount: Money,
    pub currency_code: String,
    pub status: String,
    pub method: Option<String>,
    pub created_at: String,
    pub completed_at: Option<String>,
    pub external_reference: Option<String>,
}

impl Read for RefundTransaction {
    fn read(mut fields: Fields) -> Result<RefundTransaction, String> {
        Ok(RefundTransaction {
            id: fields.u64("id")?,
            return_id: fields.u64("returnId")?,
            order_id: fields.u64("orderId")?,
            amount: fields.money("amount")?,
            currency_code: fields.string("currencyCode")?,
            status: fields.string("status")?,
            method: fields.opt_string("method")?,
            created_at: fields.string("createdAt")?,
            completed_at: fields.opt_string("completedAt")?,
            external_reference: fields.opt_string("externalReference")?,
        })
    }
}

/// A resource's `Deserialize`: its JSON text read by hand (see the module's note).
macro_rules! deserialize_by_hand {
    ($($model:ident),*) => {$(
        impl<'de> Deserialize<'de> for $model {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                json::deserialize_with(deserializer, |value: Json| {
                    $model::read_value(value, "the body")
                })
            }
        }
    )*};
}

deserialize_by_hand!(Order, Return, RefundTransaction, ExternallyRefunded);

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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternallyRefunded {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_reference: Option<String>,
    pub refunded_at: String,
}

impl Read for ExternallyRefunded {
    fn read(mut fields: Fields) -> Result<ExternallyRefunded, String> {
        Ok(ExternallyRefunded {
            external_reference: fields.opt_string("externalReference")?,
            refunded_at: fields.string("refundedAt")?,
        })
    }
}

impl Return {
    pub fn item(&self, id: u64) -> Option<&ReturnItem> {
        self.items.iter().find(|item| item.id == id)
    }

    /// The refund a report would create: Σ approved quantity × unit refund amount. Items
    /// unknown to this return count nothing (the caller refuses those first).
    pub fn approved_refund(&self, report: &ReturnedItemsReport) -> Result<Money, Overflow> {
        report
            .items
            .iter()
            .filter(|reported| reported.approved)
            .filter_map(|reported| {
                self.item(reported.return_item_id)
                    .map(|item| item.unit_refund_amount.times(reported.quantity))
            })
            .try_fold(Money::ZERO, |sum, line| sum.checked_add(line?))
    }

    /// The value of the items being returned: Σ quantity × unit refund amount.
    pub fn items_value(&self) -> Result<Money, Overflow> {
        self.items.iter().try_fold(Money::ZERO, |sum, item| {
            sum.checked_add(item.unit_refund_amount.times(item.quantity)?)
        })
    }

    pub fn item_quantity(&self) -> u32 {
        self.items
            .iter()
            .fold(0, |units, item| units.saturating_add(item.quantity))
    }
}

/// Money as a decimal string in major units with at least two decimals ("499.00").
pub fn money(amount: Money) -> String {
    amount.to_text()
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
        assert_eq!(
            parsed.items_value().map(money),
            Ok("10000000000001299.31".into())
        );
        assert_eq!(money(Money::from(5)), "5.00");
        assert_eq!(parsed.item_quantity(), 5);
    }

    #[test]
    fn amounts_parse_from_their_json_text_as_rust_decimal_did() {
        let amount = |json: &str| {
            let body = format!(
                r#"{{"id":1,"returnId":2,"orderId":3,"amount":{json},"currencyCode":"SEK","status":"PENDING","createdAt":"2026-01-01T00:00:00Z"}}"#
            );
            serde_json::from_str::<RefundTransaction>(&body)
                .map(|refund| money(refund.amount))
                .map_err(|error| error.to_string())
        };
        assert_eq!(amount("12.50"), Ok("12.50".into()));
        assert_eq!(amount("-0.10"), Ok("-0.10".into()));
        assert_eq!(amount("1.5e2"), Ok("150.00".into()));
        assert_eq!(amount("5.06E-6"), Ok("0.00000506".into()));
        assert_eq!(amount(r#""99.90""#), Ok("99.90".into()));
        // More digits than rust_decimal held, still exact.
        assert_eq!(
            amount("79228162514264337593543950336.5"),
            Ok("79228162514264337593543950336.50".into())
        );
        for (json, message) in [
            ("null", "missing field `amount`"),
            (
                "true",
                "invalid type for `amount`: expected a decimal amount, found a boolean",
            ),
            (
                "[1]",
                "invalid type for `amount`: expected a decimal amount, found an array",
            ),
            (
                r#"{"a":1}"#,
                "invalid type for `amount`: expected a decimal amount, found an object",
            ),
            (
                r#""ten""#,
                "invalid amount for `amount`: not a decimal number",
            ),
            ("1e400", "invalid amount for `amount`: Ingrid's amounts"),
            (
                "170141183460469231731687303715884105728",
                "invalid amount for `amount`: Ingrid's amounts",
            ),
        ] {
            let error = amount(json).err().unwrap_or_default();
            assert!(error.starts_with(message), "{json}: {error}");
        }
    }

    #[test]
    fn models_name_the_field_they_cannot_read() {
        let order = |json: &str| {
            serde_json::from_str::<Order>(json)
                .map(|order| order.id)
                .map_err(|error| error.to_string())
        };
        let lines = r#""lineItems":[{"id":1,"quantity":1,"unitPrice":1},{"id":2,"unitPrice":1}]"#;
        for (json, message) in [
            (
                r#"{"id":1,"orderNumber":"A","createdAt":"x","currencyCode":"SEK"}"#,
                "missing field `totalAmount`",
            ),
            (
                r#"{"id":"1","orderNumber":"A","createdAt":"x","currencyCode":"SEK","totalAmount":1}"#,
                "invalid type for `id`: expected a whole number, found a string",
            ),
            (
                r#"{"id":-1,"orderNumber":"A","createdAt":"x","currencyCode":"SEK","totalAmount":1}"#,
                "invalid value for `id`: expected a whole number from 0 to 18446744073709551615, found -1",
            ),
            (
                r#"{"id":1,"id":2,"orderNumber":"A","createdAt":"x","currencyCode":"SEK","totalAmount":1}"#,
                "duplicate field `id`",
            ),
            (
                r#"{"id":1,"orderNumber":null,"createdAt":"x","currencyCode":"SEK","totalAmount":1}"#,
                "missing field `orderNumber`",
            ),
            (
                &format!(
                    r#"{{"id":1,"orderNumber":"A","createdAt":"x","currencyCode":"SEK","totalAmount":1,{lines}}}"#
                ),
                "in `lineItems[1]`: missing field `quantity`",
            ),
            (
                r#"{"id":1,"orderNumber":"A","createdAt":"x","currencyCode":"SEK","totalAmount":1,"lineItems":null}"#,
                "invalid type for `lineItems`: expected an array, found null",
            ),
            (
                r#"{"id":1,"orderNumber":"A","createdAt":"x","currencyCode":"SEK","totalAmount":1,"customer":[]}"#,
                "invalid type for `customer`: expected an object, found an array",
            ),
            (
                "[]",
                "invalid type for the body: expected an object, found an array",
            ),
        ] {
            let error = order(json).err().unwrap_or_default();
            assert!(error.starts_with(message), "{json}: {error}");
        }
        let fine = r#"{"id":7,"orderNumber":"A","createdAt":"x","currencyCode":"SEK","totalAmount":1,
            "customer":null,"unknown":{"deep":[1,2,{"x":null}]},"lineItems":[]}"#;
        assert_eq!(order(fine), Ok(7));
        // A list names the item.
        let listed = |json: &str| {
            serde_json::from_str::<json::List<Order>>(json)
                .err()
                .map(|error| error.to_string())
                .unwrap_or_default()
        };
        assert_eq!(
            listed(r#"[{"id":1}]"#),
            "in item 0: missing field `orderNumber`"
        );
        assert_eq!(
            listed("{}"),
            "invalid type for the body: expected an array, found an object"
        );
    }

    #[test]
    fn absurd_amounts_and_quantities_are_an_error_instead_of_a_trap() {
        let json = r#"{"id":1,"orderId":2,"status":"IN_TRANSIT","createdAt":"2026-01-01T00:00:00Z",
            "currencyCode":"SEK","items":[
              {"id":3,"quantity":4294967295,"unitRefundAmount":79228162514264337593543950335},
              {"id":4,"quantity":4294967295,"unitRefundAmount":1}]}"#;
        let parsed: Return = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed.items_value(), Err(Overflow));
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
        assert_eq!(
            parsed.approved_refund(&report).map(money),
            Ok("0.20".into())
        );
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
