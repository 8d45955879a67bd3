//! Ingrid's resources as this plugin reads them (modelled shapes, see the catalog). Money is
//! parsed exactly from the JSON number's digits, never through f64.

use rust_decimal::Decimal;
use serde::Deserialize;

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
    #[serde(with = "rust_decimal::serde::arbitrary_precision")]
    pub unit_refund_amount: Decimal,
}

impl Return {
    /// The value of the items being returned: Σ quantity × unit refund amount.
    pub fn items_value(&self) -> Decimal {
        self.items
            .iter()
            .map(|item| item.unit_refund_amount * Decimal::from(item.quantity))
            .sum()
    }

    pub fn item_quantity(&self) -> u32 {
        self.items.iter().map(|item| item.quantity).sum()
    }
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
}
