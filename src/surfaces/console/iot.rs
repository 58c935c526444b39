//! The console's IoT area (seed 002): devices, vendors, the agent tree, members, orders,
//! tickets, commissions and withdrawals, for operators and for the platform's own accounts
//! (platform, vendors, agents, dealers), each seeing exactly its range (seed 002's
//! "用户后台分级 和 权限控制").
//!
//! Decisions:
//! - An operator (admin account) has no IoT account. The console acts for it as the IoT
//!   platform (A*): a `Caller` with `Role::Platform`, no vendor, and the uid
//!   `operator:<username>`, which the domain records as who approved a ticket or sent a command.
//!   The domain accepts such a caller as it accepts the demo's `platform` account: the platform
//!   role sees every vendor's objects and no rule reads a platform caller's uid.
//! - Lists are the `Records` tables of `store::iot::console`, each naming its range columns,
//!   so a vendor, agent or dealer reads only its range in SQL (pages and CSV alike). Objects
//!   (a device, an order, a ticket) load through the IoT services with the caller, so one out of
//!   range is "not found" (404), and every change goes through those services.
//! - The vendors' list is the platform's only: the page first asks the domain (`vendors`) and
//!   shows its refusal (403) to anyone else.

mod objects;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};

use super::i18n::Lang;
use super::session::Session;
use super::table::{self, Action, TableView};
use super::{Chrome, Fail, Page, Tab, html, tabs};
use crate::domain::iot::partners::Partners;
use crate::domain::iot::{Caller, Role};
use crate::domain::records::tables::iot as lists;
use crate::domain::records::{Cell, Filter, Table};
use crate::surfaces::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/iot/devices", get(devices))
        .route("/iot/devices/{did}", get(objects::device))
        .route("/iot/devices/{did}/command", post(objects::command))
        .route("/iot/vendors", get(vendors))
        .route("/iot/agents", get(agents))
        .route("/iot/members", get(members))
        .route("/iot/orders", get(orders))
        .route("/iot/orders/{oid}", get(objects::order))
        .route("/iot/orders/{oid}/act", post(objects::order_act))
        .route("/iot/tickets", get(tickets))
        .route("/iot/tickets/{tid}", get(objects::ticket))
        .route("/iot/tickets/{tid}/act", post(objects::ticket_act))
        .route("/iot/commissions", get(commissions))
        .route("/iot/withdrawals", get(withdrawals).post(withdraw))
}

/// The tabs of the platform (and operators), then everyone else's (no vendors' list).
const TABS_PLATFORM: &[(&str, &str)] = &[
    ("iot_devices", "/console/iot/devices"),
    ("iot_vendors", "/console/iot/vendors"),
    ("iot_agents", "/console/iot/agents"),
    ("iot_members", "/console/iot/members"),
    ("iot_orders", "/console/iot/orders"),
    ("iot_tickets", "/console/iot/tickets"),
    ("iot_commissions", "/console/iot/commissions"),
    ("iot_withdrawals", "/console/iot/withdrawals"),
];
const TABS_RANGE: &[(&str, &str)] = &[
    ("iot_devices", "/console/iot/devices"),
    ("iot_agents", "/console/iot/agents"),
    ("iot_members", "/console/iot/members"),
    ("iot_orders", "/console/iot/orders"),
    ("iot_tickets", "/console/iot/tickets"),
    ("iot_commissions", "/console/iot/commissions"),
    ("iot_withdrawals", "/console/iot/withdrawals"),
];

/// The IoT caller the console acts as: the account's own, or the platform for an operator.
pub fn caller(session: &Session) -> Caller {
    match session.iot_caller() {
        Some(c) => c.clone(),
        None => Caller {
            uid: format!("operator:{}", session.name()),
            role: Role::Platform,
            vid: None,
            agent: None,
            dealer: None,
        },
    }
}

/// The area's tabs for this session, the one at `here` active.
pub fn area_tabs(session: &Session, here: &str) -> Vec<Tab> {
    let all = if caller(session).role == Role::Platform {
        TABS_PLATFORM
    } else {
        TABS_RANGE
    };
    tabs(session.lang, all, here)
}

/// A filter link above a table.
pub struct Chip {
    pub label: String,
    pub href: String,
    pub active: bool,
}

/// A figure above a table.
pub struct Figure {
    pub label: &'static str,
    pub value: String,
    pub id: &'static str,
}

#[derive(Template)]
#[template(path = "console/iot_list.html")]
struct ListView {
    c: Chrome,
    tabs: Vec<Tab>,
    chips: Vec<Chip>,
    figures: Vec<Figure>,
    table: TableView,
    /// The withdrawal form (an agent's or a dealer's withdrawals page).
    withdraw: bool,
}

/// A filter by a query parameter: its name, the column it filters, whether its values are
/// numbers, and its choices (value, word).
struct Chips(
    &'static str,
    &'static str,
    bool,
    &'static [(&'static str, &'static str)],
);

/// What a list page shows besides its table.
struct Spec {
    title: &'static str,
    table: &'static Table,
    csv: &'static str,
    chips: Option<Chips>,
    figures: Vec<Figure>,
    withdraw: bool,
}

/// A list page of the area (or its CSV with `?format=csv`), in the reader's range.
async fn list(
    state: &AppState,
    session: &Session,
    spec: Spec,
    decorate: impl FnOnce(&mut TableView),
) -> Page {
    let lang = session.lang;
    let params = table::Params::of(&session.uri);
    let path = session.uri.path().to_owned();
    let mut filters = Vec::new();
    let mut chips = Vec::new();
    if let Some(Chips(param, column, numeric, choices)) = spec.chips {
        let chosen = params.get(param).map(str::to_owned);
        if let Some(v) = &chosen {
            filters.push(match (numeric, v.parse::<i64>()) {
                (false, _) => Filter::Equals(column, Cell::Text(v.clone())),
                (true, Ok(n)) => Filter::Equals(column, Cell::Int(n)),
                // A value that is not a number matches nothing rather than everything (and is
                // never compared with a number column as text).
                (true, Err(_)) => Filter::Below(column, i64::MIN),
            });
        }
        chips.push(Chip {
            label: lang.t("iot_all").to_owned(),
            href: params.link(&path, &[(param, None), ("page", None)]),
            active: chosen.is_none(),
        });
        for (value, word) in choices {
            chips.push(Chip {
                label: lang.t(word).to_owned(),
                href: params.link(&path, &[(param, Some((*value).into())), ("page", None)]),
                active: chosen.as_deref() == Some(value),
            });
        }
    }
    let mut view = match table::listed(state, session, spec.table, filters, spec.csv).await? {
        table::Listed::Csv(csv) => return Ok(csv),
        table::Listed::Table(view) => view,
    };
    decorate(&mut view);
    Ok(html(
        lang,
        &ListView {
            c: Chrome::new(session, "area_iot", spec.title),
            tabs: area_tabs(session, &path),
            chips,
            figures: spec.figures,
            table: view.finish(),
            withdraw: spec.withdraw,
        },
    ))
}

/// A party's name from its profile (a JSON object); empty when it has none.
pub fn name_of(profile: &str) -> String {
    crate::domain::iot::object_of(profile)
        .get("name")
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .to_owned()
}

/// Makes column `i` of each row a link to `prefix` and its value.
fn links(view: &mut TableView, i: usize, prefix: &str) {
    for row in &mut view.rows {
        let id = row.text(i).to_owned();
        if let Some(cell) = row.cells.get_mut(i)
            && !id.is_empty()
        {
            cell.href = Some(format!("{prefix}{}", super::percent(&id)));
        }
    }
}

/// Shows the number in column `i` as the word `prefix` + number (when there is such a word).
fn labels(lang: Lang, view: &mut TableView, i: usize, prefix: &str) {
    for row in &mut view.rows {
        let Some(n) = row.int(i) else { continue };
        let key = format!("{prefix}{n}");
        let word = lang.t(&key);
        if word != key
            && let Some(cell) = row.cells.get_mut(i)
        {
            cell.text = word.to_owned();
            cell.class = "";
        }
    }
}

const ONLINE: &[(&str, &str)] = &[("1", "iot_online"), ("0", "iot_offline")];

async fn devices(State(state): State<AppState>, session: Session) -> Page {
    let lang = session.lang;
    let spec = Spec {
        title: "iot_devices",
        table: &lists::DEVICES,
        csv: "iot-devices",
        chips: Some(Chips("online", "iot_online", true, ONLINE)),
        figures: Vec::new(),
        withdraw: false,
    };
    list(&state, &session, spec, |view| {
        links(view, 0, "/console/iot/devices/");
        labels(lang, view, 2, "iot_dtype_");
        for row in &mut view.rows {
            let online = row.int(1) == Some(1);
            if let Some(cell) = row.cells.get_mut(1) {
                cell.text = lang
                    .t(if online { "iot_online" } else { "iot_offline" })
                    .to_owned();
                cell.class = if online { "tag-ok" } else { "muted" };
            }
        }
    })
    .await
}

async fn vendors(State(state): State<AppState>, session: Session) -> Page {
    // The domain decides who lists vendors (AX-01: the platform only).
    Partners::may_list_vendors(&caller(&session))?;
    let spec = Spec {
        title: "iot_vendors",
        table: &lists::VENDORS,
        csv: "iot-vendors",
        chips: None,
        figures: Vec::new(),
        withdraw: false,
    };
    list(&state, &session, spec, |_| {}).await
}

async fn agents(State(state): State<AppState>, session: Session) -> Page {
    let lang = session.lang;
    let spec = Spec {
        title: "iot_agents",
        table: &lists::AGENTS,
        csv: "iot-agents",
        chips: None,
        figures: Vec::new(),
        withdraw: false,
    };
    list(&state, &session, spec, |view| {
        for row in &mut view.rows {
            let dealer = row.text(1) == "dealer";
            if let Some(cell) = row.cells.get_mut(1) {
                cell.text = lang.t(if dealer { "dealer" } else { "agent" }).to_owned();
            }
            // Dealers sit under their agent: indented.
            if dealer && let Some(cell) = row.cells.get_mut(2) {
                cell.text = format!("└ {}", cell.text);
            }
        }
    })
    .await
}

async fn members(State(state): State<AppState>, session: Session) -> Page {
    let spec = Spec {
        title: "iot_members",
        table: &lists::MEMBERS,
        csv: "iot-members",
        chips: None,
        figures: Vec::new(),
        withdraw: false,
    };
    list(&state, &session, spec, |_| {}).await
}

const ORDER_STATES: &[(&str, &str)] = &[
    ("obligation", "iot_ostate_obligation"),
    ("paid", "iot_ostate_paid"),
    ("delivered", "iot_ostate_delivered"),
    ("received", "iot_ostate_received"),
    ("return", "iot_ostate_return"),
    ("consent", "iot_ostate_consent"),
    ("refund", "iot_ostate_refund"),
    ("close", "iot_ostate_close"),
    ("done", "iot_ostate_done"),
];

async fn orders(State(state): State<AppState>, session: Session) -> Page {
    let lang = session.lang;
    let spec = Spec {
        title: "iot_orders",
        table: &lists::ORDERS,
        csv: "iot-orders",
        chips: Some(Chips("state", "state", false, ORDER_STATES)),
        figures: Vec::new(),
        withdraw: false,
    };
    list(&state, &session, spec, |view| {
        links(view, 0, "/console/iot/orders/");
        for row in &mut view.rows {
            let key = format!("iot_ostate_{}", row.text(1));
            let word = lang.t(&key);
            if word != key
                && let Some(cell) = row.cells.get_mut(1)
            {
                cell.text = word.to_owned();
            }
        }
    })
    .await
}

const TICKET_STATES: &[(&str, &str)] = &[
    ("1", "iot_tstatus_1"),
    ("2", "iot_tstatus_2"),
    ("3", "iot_tstatus_3"),
    ("4", "iot_tstatus_4"),
    ("5", "iot_tstatus_5"),
    ("6", "iot_tstatus_6"),
    ("0", "iot_tstatus_0"),
];

async fn tickets(State(state): State<AppState>, session: Session) -> Page {
    let lang = session.lang;
    let brand = caller(&session).is_brand();
    let spec = Spec {
        title: "iot_tickets",
        table: &lists::TICKETS,
        csv: "iot-tickets",
        chips: Some(Chips("status", "status", true, TICKET_STATES)),
        figures: Vec::new(),
        withdraw: false,
    };
    list(&state, &session, spec, |view| {
        links(view, 0, "/console/iot/tickets/");
        links(view, 4, "/console/iot/devices/");
        links(view, 5, "/console/iot/orders/");
        for row in &mut view.rows {
            // A created ticket is approved (A#) right from the list.
            if brand && row.int(2) == Some(crate::domain::iot::tickets::CREATED) {
                let url = format!("/console/iot/tickets/{}/act", super::percent(row.text(0)));
                row.actions.push(
                    Action::post(lang, "iot_approve", url)
                        .field("move", "approve")
                        .field("check_result", "true"),
                );
            }
        }
        labels(lang, view, 1, "iot_ttype_");
        labels(lang, view, 2, "iot_tstatus_");
    })
    .await
}

/// AF-02's figures for the caller.
async fn summary(state: &AppState, session: &Session) -> Result<Vec<Figure>, Fail> {
    let s = state
        .iot
        .orders
        .commission_summary(&caller(session))
        .await?;
    let lang = session.lang;
    Ok(vec![
        Figure {
            label: lang.t("iot_available"),
            value: s.available.yuan_string(),
            id: "iot-available",
        },
        Figure {
            label: lang.t("iot_pending"),
            value: s.pending.yuan_string(),
            id: "iot-pending",
        },
        Figure {
            label: lang.t("iot_withdrawn"),
            value: s.withdrawn.yuan_string(),
            id: "iot-withdrawn",
        },
        Figure {
            label: lang.t("iot_void"),
            value: s.void.yuan_string(),
            id: "iot-void",
        },
    ])
}

const COMMISSION_STATES: &[(&str, &str)] = &[
    ("pending", "iot_pending"),
    ("available", "iot_available"),
    ("void", "iot_void"),
];

async fn commissions(State(state): State<AppState>, session: Session) -> Page {
    let lang = session.lang;
    let figures = summary(&state, &session).await?;
    let spec = Spec {
        title: "iot_commissions",
        table: &lists::COMMISSIONS,
        csv: "iot-commissions",
        chips: Some(Chips("state", "state", false, COMMISSION_STATES)),
        figures,
        withdraw: false,
    };
    list(&state, &session, spec, |view| {
        links(view, 0, "/console/iot/orders/");
        for row in &mut view.rows {
            let key = format!("iot_{}", row.text(6));
            let word = lang.t(&key);
            if word != key
                && let Some(cell) = row.cells.get_mut(6)
            {
                cell.text = word.to_owned();
            }
        }
    })
    .await
}

async fn withdrawals(State(state): State<AppState>, session: Session) -> Page {
    // The summary (AF-02) reads every commission of the range: it is on the commissions page
    // only, so that this one stays fast.
    let spec = Spec {
        title: "iot_withdrawals",
        table: &lists::WITHDRAWALS,
        csv: "iot-withdrawals",
        chips: None,
        figures: Vec::new(),
        // Agents and dealers withdraw what they earned (AF-03); the platform and vendors earn
        // none, operators act as the platform.
        withdraw: session
            .iot_caller()
            .is_some_and(|c| matches!(c.role, Role::Agent | Role::Dealer)),
    };
    list(&state, &session, spec, |_| {}).await
}

/// `POST /console/iot/withdrawals` `amount` (yuan, two decimals at most; empty for all that is
/// available): an agent's or a dealer's withdrawal (AF-03), its result or refusal (nothing
/// available, too soon after the last, more than available) shown on the page.
async fn withdraw(
    State(state): State<AppState>,
    session: Session,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Page {
    let fields = super::posted(&session, &headers, &body)?;
    let amount = match fields.text("amount") {
        "" => Ok(None),
        text => crate::domain::money::Fen::parse_yuan(text)
            .filter(|f| f.0 > 0)
            .map(Some)
            .ok_or_else(|| {
                crate::domain::Error::invalid(
                    "amount",
                    "amount is a positive sum in yuan, two decimals at most",
                )
            }),
    };
    let result = state
        .iot
        .orders
        .withdraw(&caller(&session), crate::domain::iot::Input::from(amount))
        .await
        .map(|_| ());
    Ok(super::done(session.lang, &fields, result))
}

pub const WORDS: &[(&str, &str, &str)] = &[
    ("iot_devices", "设备", "Devices"),
    ("iot_vendors", "厂商", "Vendors"),
    ("iot_agents", "代理/经销商", "Agents and dealers"),
    ("iot_members", "会员", "Members"),
    ("iot_orders", "订单", "Orders"),
    ("iot_tickets", "工单", "Tickets"),
    ("iot_commissions", "佣金", "Commissions"),
    ("iot_withdrawals", "提现", "Withdrawals"),
    ("iot_withdraw", "申请提现", "Withdraw"),
    ("iot_withdraw_amount", "提现金额（元）", "Amount (yuan)"),
    (
        "iot_withdraw_all",
        "留空则提取全部可提佣金",
        "Empty: all that is available",
    ),
    ("iot_all", "全部", "All"),
    ("iot_online", "在线", "Online"),
    ("iot_offline", "离线", "Offline"),
    ("iot_lock", "锁定原因", "Locked for"),
    ("iot_seen_at", "最近上报", "Last seen"),
    ("iot_registered", "注册时间", "Registered"),
    ("iot_code", "厂商代码", "Code"),
    ("iot_tree", "所属代理商", "Under agent"),
    ("iot_referrer", "推荐人", "Referrer"),
    ("iot_detail", "描述", "Detail"),
    ("iot_device", "设备", "Device"),
    ("iot_order", "订单", "Order"),
    ("iot_handler", "处理人", "Handler"),
    ("iot_level", "级别", "Level"),
    ("iot_earner", "获得者", "Earner"),
    ("iot_rate", "比例（%）", "Rate (%)"),
    ("iot_available_at", "可用时间", "Available from"),
    ("iot_available", "可用（元）", "Available (yuan)"),
    ("iot_pending", "待激（元）", "Pending (yuan)"),
    ("iot_withdrawn", "已提现（元）", "Withdrawn (yuan)"),
    ("iot_void", "作废（元）", "Void (yuan)"),
    ("iot_approve", "审核通过", "Approve"),
    ("iot_reject", "驳回", "Reject"),
    ("iot_dispatch", "派单", "Dispatch"),
    ("iot_move_status", "更新状态", "Change status"),
    ("iot_remark", "备注", "Remark"),
    ("iot_reply", "回复", "Reply"),
    (
        "iot_installer",
        "处理人（安装/维修人员）",
        "Handler (installer)",
    ),
    ("iot_dtype_1", "销售", "Sale"),
    ("iot_dtype_2", "时长租赁", "Timed rental"),
    ("iot_dtype_3", "计量租赁", "Metered rental"),
    ("iot_dtype_4", "售水机", "Vending"),
    ("iot_ttype_1", "安装", "Install"),
    ("iot_ttype_2", "换货", "Exchange"),
    ("iot_ttype_3", "退货", "Return"),
    ("iot_ttype_4", "故障", "Fault"),
    ("iot_ttype_5", "维护", "Maintenance"),
    ("iot_ttype_6", "拆机", "Dismantle"),
    ("iot_tstatus_0", "驳回", "Rejected"),
    ("iot_tstatus_1", "创建", "Created"),
    ("iot_tstatus_2", "审核", "Approved"),
    ("iot_tstatus_3", "派单", "Dispatched"),
    ("iot_tstatus_4", "正在处理", "Processing"),
    ("iot_tstatus_5", "等待回应", "Waiting for reply"),
    ("iot_tstatus_6", "完成", "Done"),
    ("iot_ostate_obligation", "待付款", "Awaiting payment"),
    ("iot_ostate_paid", "已付款", "Paid"),
    ("iot_ostate_delivered", "已发货", "Delivered"),
    ("iot_ostate_received", "已收货", "Received"),
    ("iot_ostate_return", "申请退货", "Return asked"),
    ("iot_ostate_consent", "同意退货", "Return agreed"),
    ("iot_ostate_refund", "已退款", "Refunded"),
    ("iot_ostate_close", "已关闭", "Closed"),
    ("iot_ostate_done", "已完成", "Done"),
    ("iot_filters", "滤芯寿命", "Filter life"),
    ("iot_filter_order", "级", "Stage"),
    ("iot_cycle", "更换次数", "Replacements"),
    ("iot_remaining_h", "剩余（小时）", "Remaining (hours)"),
    ("iot_remaining_pct", "剩余（%）", "Remaining (%)"),
    ("iot_expired", "已到期", "Expired"),
    ("iot_commands", "命令记录", "Commands"),
    ("iot_send_command", "发送命令", "Send a command"),
    ("iot_op", "命令", "Command"),
    ("iot_by", "发送者", "Sent by"),
    ("iot_result", "结果", "Result"),
    ("iot_op_lock", "锁定", "Lock"),
    ("iot_op_unlock", "解锁", "Unlock"),
    ("iot_op_reboot", "重启", "Reboot"),
    ("iot_op_reset_filter", "复位滤芯", "Reset filter"),
    ("iot_shares", "共享给", "Shared with"),
    ("iot_product", "产品", "Product"),
    ("iot_moves", "可执行的操作", "Moves"),
    (
        "iot_no_moves",
        "当前状态下没有可执行的操作",
        "No move in this state",
    ),
    ("iot_deliver", "发货", "Deliver"),
    ("iot_edit_delivery", "修改物流", "Edit delivery"),
    ("iot_company", "物流公司", "Carrier"),
    ("iot_tracking", "运单号", "Tracking number"),
    ("iot_clerk", "配送员", "Courier"),
    ("iot_consent", "同意退货", "Agree to the return"),
    ("iot_refund", "退款", "Refund"),
    ("iot_refund_no", "退款单号", "Refund number"),
    ("iot_close", "关闭订单", "Close the order"),
    ("iot_finish", "完成订单", "Finish the order"),
    ("iot_receiver", "收货人", "Receiver"),
    ("iot_lines", "商品", "Items"),
    ("iot_quantity", "数量", "Quantity"),
    ("iot_price", "单价（元）", "Price (yuan)"),
    ("iot_delivery", "物流", "Delivery"),
    ("iot_memo", "备注", "Memo"),
    ("iot_appoint", "预约时间", "Appointment"),
    ("iot_approval", "审核结果", "Approval"),
];
