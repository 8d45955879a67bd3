//! The simulator's data types, serialised exactly in the shapes of the modelled API
//! (camelCase fields, SCREAMING_SNAKE_CASE enum values, money with two decimals, RFC 3339 UTC).

use std::collections::BTreeMap;
use std::fmt;

use rust_decimal::Decimal;
use serde::{Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Everything the simulator serves; ids are the map keys, so iteration is ascending by id
/// (what keyset pagination needs).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Dataset {
    pub orders: BTreeMap<u64, Order>,
    pub returns: BTreeMap<u64, Return>,
    pub refunds: BTreeMap<u64, RefundTransaction>,
    pub next_refund_id: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Order {
    pub id: u64,
    pub order_number: String,
    #[serde(serialize_with = "timestamp")]
    pub created_at: OffsetDateTime,
    pub currency_code: Currency,
    pub customer: Customer,
    pub line_items: Vec<LineItem>,
    #[serde(serialize_with = "money")]
    pub total_amount: Decimal,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Customer {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LineItem {
    pub id: u64,
    pub product_id: u64,
    pub variant_id: u64,
    pub sku: String,
    pub title: String,
    pub quantity: u32,
    #[serde(serialize_with = "money")]
    pub unit_price: Decimal,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Return {
    pub id: u64,
    pub order_id: u64,
    pub order_number: String,
    pub status: ReturnStatus,
    pub resolution: Resolution,
    #[serde(serialize_with = "timestamp")]
    pub created_at: OffsetDateTime,
    #[serde(serialize_with = "timestamp")]
    pub updated_at: OffsetDateTime,
    /// When the return became COMPLETED (M16); null before.
    #[serde(serialize_with = "optional_timestamp")]
    pub completed_at: Option<OffsetDateTime>,
    pub currency_code: Currency,
    pub items: Vec<ReturnItem>,
    pub tracking_number: Option<String>,
    pub remark: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReturnItem {
    pub id: u64,
    pub line_item_id: u64,
    pub sku: String,
    pub title: String,
    pub quantity: u32,
    pub reason: Reason,
    pub comment: Option<String>,
    pub status: ItemStatus,
    #[serde(serialize_with = "money")]
    pub unit_refund_amount: Decimal,
    /// Quantity the warehouse approved; not part of the API shape, kept so the refund amount
    /// of a partly approved item can be explained in tests.
    #[serde(skip)]
    pub approved_quantity: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RefundTransaction {
    pub id: u64,
    pub return_id: u64,
    pub order_id: u64,
    #[serde(serialize_with = "money")]
    pub amount: Decimal,
    pub currency_code: Currency,
    pub status: RefundStatus,
    pub method: RefundMethod,
    #[serde(serialize_with = "timestamp")]
    pub created_at: OffsetDateTime,
    #[serde(serialize_with = "optional_timestamp")]
    pub completed_at: Option<OffsetDateTime>,
    pub external_reference: Option<String>,
}

/// Declares a closed set of wire values once: the enum, its wire names, Display, parsing (for
/// query filters, so an unknown value can be named in a 400) and Serialize.
macro_rules! wire_enum {
    ($name:ident { $($variant:ident => $wire:literal),+ $(,)? }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub(crate) enum $name { $($variant),+ }

        // Not every enum is a query filter, so some helpers go unused for some of them.
        #[allow(dead_code)]
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }

            /// The value with this wire name, for query filters.
            pub fn parse(text: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|value| value.as_str() == text)
            }

            /// The accepted values, comma separated, for error messages.
            pub fn accepted() -> String {
                Self::ALL.iter().map(|value| value.as_str()).collect::<Vec<_>>().join(", ")
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
    };
}

wire_enum!(ReturnStatus {
    AwaitingReturn => "AWAITING_RETURN",
    InTransit => "IN_TRANSIT",
    AwaitingRefund => "AWAITING_REFUND",
    AwaitingExchange => "AWAITING_EXCHANGE",
    Completed => "COMPLETED",
});

wire_enum!(Resolution {
    Refund => "REFUND",
    Exchange => "EXCHANGE",
});

wire_enum!(ItemStatus {
    Pending => "PENDING",
    Approved => "APPROVED",
    Rejected => "REJECTED",
});

wire_enum!(RefundStatus {
    Pending => "PENDING",
    Refunded => "REFUNDED",
    ExternallyRefunded => "EXTERNALLY_REFUNDED",
    Failed => "FAILED",
});

wire_enum!(RefundMethod {
    OriginalPayment => "ORIGINAL_PAYMENT",
    StoreCredit => "STORE_CREDIT",
    External => "EXTERNAL",
});

wire_enum!(Reason {
    TooSmall => "TOO_SMALL",
    TooLarge => "TOO_LARGE",
    Damaged => "DAMAGED",
    NotAsDescribed => "NOT_AS_DESCRIBED",
    ChangedMind => "CHANGED_MIND",
    WrongItem => "WRONG_ITEM",
    ArrivedLate => "ARRIVED_LATE",
});

wire_enum!(Currency {
    Sek => "SEK",
    Eur => "EUR",
    Gbp => "GBP",
});

/// Money always goes out with exactly two decimals ("499.00", not "499" or "499.0"), as a
/// JSON number built from the decimal's text so no float is ever involved.
pub(crate) fn money<S: Serializer>(value: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
    let mut two_places = value.round_dp(2);
    two_places.rescale(2);
    rust_decimal::serde::arbitrary_precision::serialize(&two_places, serializer)
}

/// RFC 3339 in UTC with a `Z` suffix and whole seconds.
pub(crate) fn format_timestamp(value: OffsetDateTime) -> String {
    let utc = value
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(value);
    // Formatting a whole-second UTC time as RFC 3339 cannot fail for years 0..=9999.
    utc.format(&Rfc3339)
        .unwrap_or_else(|_| String::from("1970-01-01T00:00:00Z"))
}

fn timestamp<S: Serializer>(value: &OffsetDateTime, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format_timestamp(*value))
}

fn optional_timestamp<S: Serializer>(
    value: &Option<OffsetDateTime>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => serializer.serialize_str(&format_timestamp(*value)),
        None => serializer.serialize_none(),
    }
}

impl Return {
    /// Σ approved quantity × unitRefundAmount: the amount of the refund this return is owed.
    pub fn approved_refund_total(&self) -> Decimal {
        self.items
            .iter()
            .filter(|item| item.status == ItemStatus::Approved)
            .map(|item| item.unit_refund_amount * Decimal::from(item.approved_quantity))
            .sum()
    }
}

/// The warehouse remark on a return: one sentence per item remark, led by a summary when
/// every item was rejected. `None` when there is nothing to say.
pub(crate) fn compose_remark(
    item_remarks: &[(u64, bool, String)],
    all_rejected: bool,
) -> Option<String> {
    let mut parts = Vec::new();
    if all_rejected {
        parts.push(String::from("All items rejected at inspection."));
    }
    for (item_id, approved, remark) in item_remarks {
        let verdict = if *approved { "approved" } else { "rejected" };
        parts.push(format!("Item {item_id} {verdict}: {remark}"));
    }
    (!parts.is_empty()).then(|| parts.join(" "))
}
