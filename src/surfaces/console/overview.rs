//! The overview: money received today and this month per area (from the journal; charging
//! from its sessions' fees), charging in progress, devices online, open tickets, unpaid heating
//! bills, and the last 30 days as a chart.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::routing::get;

use super::session::Session;
use super::{Chrome, Page, chart, html};
use crate::domain::charging::service::CarState;
use crate::domain::charging::station::PileState;
use crate::domain::money::Fen;
use crate::domain::records::AREAS;
use crate::surfaces::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/overview", get(overview))
}

/// A figure on a card.
pub struct Card {
    pub label: &'static str,
    pub value: String,
    pub id: &'static str,
}

#[derive(Template)]
#[template(path = "console/overview.html")]
struct OverviewPage {
    c: Chrome,
    cards: Vec<Card>,
    money: Vec<(&'static str, String, String)>,
    chart: String,
}

async fn overview(State(state): State<AppState>, session: Session) -> Page {
    session.operator_only()?;
    let lang = session.lang;
    let o = state.records.overview().await?;
    let piles = state.charging.piles().await?;
    let charging = piles
        .iter()
        .flat_map(|p| &p.cars)
        .filter(|c| c.state == CarState::Charging)
        .count();
    let faulted = piles
        .iter()
        .filter(|p| matches!(p.state, PileState::Fault | PileState::Off))
        .count();
    let yuan = |f: i64| Fen(f).yuan_string();
    let money = AREAS
        .iter()
        .enumerate()
        .map(|(i, a)| (lang.t(area_word(a)), yuan(o.today[i]), yuan(o.month[i])))
        .collect();
    let cards = vec![
        Card {
            label: lang.t("today_total"),
            value: yuan(o.today.iter().sum()),
            id: "today-total",
        },
        Card {
            label: lang.t("month_total"),
            value: yuan(o.month.iter().sum()),
            id: "month-total",
        },
        Card {
            label: lang.t("charging_now"),
            value: charging.to_string(),
            id: "charging-now",
        },
        Card {
            label: lang.t("piles_down"),
            value: faulted.to_string(),
            id: "piles-down",
        },
        Card {
            label: lang.t("devices_online"),
            value: format!(
                "{} / {}",
                o.devices_online,
                o.devices_online + o.devices_offline
            ),
            id: "devices-online",
        },
        Card {
            label: lang.t("open_tickets"),
            value: o.open_tickets.to_string(),
            id: "open-tickets",
        },
        Card {
            label: lang.t("unpaid_bills"),
            value: format!("{} · ¥{}", o.unpaid_bills, yuan(o.unpaid_fen)),
            id: "unpaid-bills",
        },
    ];
    let labels: Vec<String> = o.days.iter().map(|(d, _)| d.clone()).collect();
    let series: Vec<(String, Vec<i64>)> = AREAS
        .iter()
        .enumerate()
        .map(|(i, a)| {
            (
                lang.t(area_word(a)).to_owned(),
                o.days.iter().map(|(_, v)| v[i]).collect(),
            )
        })
        .collect();
    let chart = chart::lines(lang.t("received_30_days"), &labels, &series, &|v| yuan(v));
    Ok(html(
        lang,
        &OverviewPage {
            c: Chrome::new(&session, "area_overview", "area_overview"),
            cards,
            money,
            chart,
        },
    ))
}

fn area_word(area: &str) -> &'static str {
    match area {
        "heating" => "area_heating",
        "meter" => "area_meter",
        "charging" => "area_charging",
        _ => "area_iot",
    }
}

pub const WORDS: &[(&str, &str, &str)] = &[
    ("today_total", "今日收款（元）", "Received today (yuan)"),
    (
        "month_total",
        "本月收款（元）",
        "Received this month (yuan)",
    ),
    ("charging_now", "正在充电", "Charging now"),
    ("piles_down", "关闭/故障的充电桩", "Piles off or faulted"),
    ("devices_online", "设备在线 / 总数", "Devices online / all"),
    ("open_tickets", "未完成工单", "Open tickets"),
    ("unpaid_bills", "未缴供热账单", "Unpaid heating bills"),
    ("received_by_area", "各业务收款", "Received by area"),
    ("area", "业务", "Area"),
    ("today", "今日", "Today"),
    ("this_month", "本月", "This month"),
    (
        "received_30_days",
        "近 30 天收款（元）",
        "Received, last 30 days (yuan)",
    ),
];
