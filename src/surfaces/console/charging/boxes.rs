//! The OCPP charge boxes and the drivers' cards (id tags) of the charging area: the pages that
//! `PUT`/`DELETE /admin/v1/charging/boxes` and `/tags` and the piles' reset and unlock were for
//! curl alone. The same service calls (`ChargeBoxes::put`, `delete`, `put_tag`, `delete_tag`,
//! `operate`); each list paged, searched, sorted and exported in SQL (`BOXES`, `TAGS`), the
//! boxes' rows joined to what the station knows of them now (pile, link, status, transaction).

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};

use super::super::session::Session;
use super::super::table::{self, Action, CellView, Header, Listed, TableView};
use super::super::{Chrome, Page, Tab, after, done, html, percent, posted};
use super::{AREA, area_tabs};
use crate::domain::Error;
use crate::domain::charging::boxes::{BoxView, Command, Reply};
use crate::domain::error::Entity;
use crate::domain::records::tables::charging::{BOXES, TAGS};
use crate::surfaces::AppState;

/// The pile choice that leaves a box's pile as it is, and the one that takes it away.
const PILE_KEEP: &str = "";
const PILE_NONE: &str = "-";

/// What the box form holds after a refusal: its values and each field's error.
#[derive(Default)]
pub struct BoxForm {
    pub id: String,
    pub pile: String,
    pub id_error: Option<String>,
    pub password_error: Option<String>,
    pub pile_error: Option<String>,
}

/// A choice of the pile select.
pub struct PileChoice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "console/chg_boxes.html")]
struct BoxesPage {
    c: Chrome,
    tabs: Vec<Tab>,
    form: BoxForm,
    piles: Vec<PileChoice>,
    table: TableView,
}

pub async fn boxes_page(State(state): State<AppState>, session: Session) -> Page {
    session.operator_only()?;
    boxes_view(&state, &session, BoxForm::default(), StatusCode::OK).await
}

async fn boxes_view(
    state: &AppState,
    session: &Session,
    form: BoxForm,
    status: StatusCode,
) -> Page {
    let lang = session.lang;
    let mut view = match table::listed(state, session, &BOXES, Vec::new(), "charging-boxes").await?
    {
        Listed::Csv(csv) => return Ok(csv),
        Listed::Table(view) => view,
    };
    // What the station knows of the page's boxes now.
    let ids: Vec<String> = view.rows.iter().map(|r| r.text(0).to_owned()).collect();
    let live = state.boxes.views(&ids).await?;
    for key in [
        "chg_pile",
        "chg_box_link",
        "chg_box_status",
        "chg_box_session",
    ] {
        view.headers.push(Header {
            label: lang.t(key),
            href: None,
            arrow: "",
        });
    }
    for row in &mut view.rows {
        let id = row.text(0).to_owned();
        let b = live.iter().find(|b| b.id == id);
        row.cells.extend(live_cells(session, b));
        if let Some(pile) = b.and_then(|b| b.pile.as_deref())
            && b.is_some_and(|b| b.connected)
        {
            let at = format!("/console/charging/piles/{}", percent(pile));
            row.actions
                .push(Action::post(lang, "chg_reset", format!("{at}/reset")));
            row.actions
                .push(Action::post(lang, "chg_unlock", format!("{at}/unlock")));
        }
        // The id as a field, not in the path: a box id may be `..` or hold a `/`.
        row.actions.push(
            Action::post(
                lang,
                "chg_remove",
                "/console/charging/boxes/delete".to_owned(),
            )
            .field("id", id)
            .danger(),
        );
    }
    let piles = state.charging.piles().await?.into_iter().map(|p| {
        let label = match &p.charge_box {
            Some(b) => format!("{} ({b})", p.id),
            None => p.id.clone(),
        };
        (p.id, label)
    });
    let choices = [
        (PILE_KEEP.to_owned(), lang.t("chg_pile_keep").to_owned()),
        (PILE_NONE.to_owned(), lang.t("chg_pile_none").to_owned()),
    ]
    .into_iter()
    .chain(piles)
    .map(|(value, label)| PileChoice {
        selected: value == form.pile,
        value,
        label,
    })
    .collect();
    let mut res = html(
        lang,
        &BoxesPage {
            c: Chrome::new(session, AREA, "chg_boxes_title"),
            tabs: area_tabs(session),
            form,
            piles: choices,
            table: view.finish(),
        },
    );
    *res.status_mut() = status;
    Ok(res)
}

/// A box's pile, link, status and transaction as cells (empty when the station has no view).
fn live_cells(session: &Session, b: Option<&BoxView>) -> Vec<CellView> {
    let lang = session.lang;
    let cell = |text: String, class: &'static str| CellView {
        text,
        href: None,
        class,
    };
    let Some(b) = b else {
        return (0..4).map(|_| cell(String::new(), "")).collect();
    };
    let link = match (b.connected, b.accepted) {
        (true, true) => cell(lang.t("chg_box_online").to_owned(), "tag-ok"),
        (true, false) => cell(lang.t("chg_box_unbooted").to_owned(), "muted"),
        (false, _) => cell(lang.t("chg_box_offline").to_owned(), "muted"),
    };
    let status = match (&b.status, &b.error_code) {
        (Some(s), Some(e)) if e != "NoError" => cell(format!("{s} ({e})"), "tag-bad"),
        (Some(s), _) => cell(s.clone(), ""),
        (None, _) => cell(String::new(), ""),
    };
    let session_text = b.transaction.as_ref().map_or_else(String::new, |t| {
        let wh = (t.meter_wh - t.meter_start_wh).max(0);
        format!("#{} {} {} {} kWh", t.id, t.number, t.user, super::kwh(wh))
    });
    vec![
        cell(b.pile.clone().unwrap_or_default(), ""),
        link,
        status,
        cell(session_text, ""),
    ]
}

/// `POST /console/charging/boxes` `id, password, pile`: registers a box (a password is then
/// required) or changes its password (left empty: unchanged) and the pile it drives, as
/// `PUT /admin/v1/charging/boxes/{id}`; a refusal is shown next to its field.
pub async fn box_save(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    body: Bytes,
) -> Page {
    session.operator_only()?;
    let fields = posted(&session, &headers, &body)?;
    let lang = session.lang;
    let id: String = fields.text("id").chars().take(64).collect();
    let password = fields.get("password").filter(|p| !p.is_empty());
    let pile_choice: String = fields.text("pile").chars().take(32).collect();
    let pile = match pile_choice.as_str() {
        PILE_KEEP => None,
        PILE_NONE => Some(None),
        p => Some(Some(p.to_owned())),
    };
    let mut form = BoxForm {
        id: id.clone(),
        pile: pile_choice,
        ..BoxForm::default()
    };
    match state.boxes.put(&id, password, pile).await {
        Ok(view) => {
            tracing::info!(operator = %session.name(), charge_box = %view.id, pile = ?view.pile, password_set = password.is_some(), "charge box changed from the console");
            Ok(after("/console/charging/boxes", true, lang.t("done")))
        }
        Err(Error::Invalid(i)) => {
            match i.field {
                "password" => form.password_error = Some(i.message),
                "pile" => form.pile_error = Some(i.message),
                _ => form.id_error = Some(i.message),
            }
            boxes_view(&state, &session, form, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(Error::NotFound(Entity::Pile)) => {
            form.pile_error = Some(lang.t("chg_no_pile").to_owned());
            boxes_view(&state, &session, form, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(Error::State(m)) => {
            form.pile_error = Some(m);
            boxes_view(&state, &session, form, StatusCode::CONFLICT).await
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /console/charging/boxes/delete` `id`: the box goes; its pile becomes simulated.
pub async fn box_delete(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    body: Bytes,
) -> Page {
    session.operator_only()?;
    let fields = posted(&session, &headers, &body)?;
    let id = fields.get("id").unwrap_or("").to_owned();
    let result = state.boxes.delete(&id).await;
    if result.is_ok() {
        tracing::info!(operator = %session.name(), charge_box = %id, "charge box removed from the console");
    }
    Ok(done(session.lang, &fields, result))
}

/// `POST /console/charging/piles/{id}/reset` and `/unlock`: the command sent to the pile's box;
/// its answer (or its silence) shown on the page the button was on.
pub async fn pile_reset(
    state: State<AppState>,
    session: Session,
    id: Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Page {
    pile_command(
        state,
        session,
        id,
        headers,
        body,
        Command::Reset { hard: false },
    )
    .await
}

pub async fn pile_unlock(
    state: State<AppState>,
    session: Session,
    id: Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Page {
    pile_command(state, session, id, headers, body, Command::Unlock).await
}

async fn pile_command(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
    command: Command,
) -> Page {
    session.operator_only()?;
    let fields = posted(&session, &headers, &body)?;
    let lang = session.lang;
    let back = super::super::back_of(&fields);
    let what = format!("{command:?}");
    let reply = match state.boxes.operate(&id, command).await {
        Ok(reply) => reply,
        // A silent box, or one not linked: said on the page, as the box's other answers are.
        Err(Error::Unavailable { .. }) => return Ok(after(&back, false, lang.t("chg_box_silent"))),
        Err(Error::State(m)) => return Ok(after(&back, false, &m)),
        Err(e) => return Ok(done(lang, &fields, Err(e))),
    };
    tracing::info!(operator = %session.name(), pile = %id, command = %what, "charge box command from the console");
    Ok(match &reply {
        Reply::Answer(_) => {
            let status = reply.status().unwrap_or("?");
            // `Rejected`, `UnlockFailed`, `NotSupported`: the box answered, and did not do it.
            let ok = matches!(status, "Accepted" | "Scheduled" | "Unlocked");
            after(
                &back,
                ok,
                &format!("{}: {status}", lang.t("chg_box_answer")),
            )
        }
        Reply::Error { code, description } => after(
            &back,
            false,
            &format!("{}: {code} {description}", lang.t("chg_box_answer")),
        ),
        Reply::Timeout | Reply::Closed => after(&back, false, lang.t("chg_box_silent")),
    })
}

// ---------------------------------------------------------------- cards

/// What the card form holds after a refusal.
#[derive(Default)]
pub struct CardForm {
    pub id_tag: String,
    pub driver: String,
    pub id_tag_error: Option<String>,
    pub driver_error: Option<String>,
}

#[derive(Template)]
#[template(path = "console/chg_cards.html")]
struct CardsPage {
    c: Chrome,
    tabs: Vec<Tab>,
    form: CardForm,
    table: TableView,
}

pub async fn cards_page(State(state): State<AppState>, session: Session) -> Page {
    session.operator_only()?;
    cards_view(&state, &session, CardForm::default()).await
}

async fn cards_view(state: &AppState, session: &Session, form: CardForm) -> Page {
    let lang = session.lang;
    let mut view = match table::listed(state, session, &TAGS, Vec::new(), "charging-cards").await? {
        Listed::Csv(csv) => return Ok(csv),
        Listed::Table(view) => view,
    };
    for row in &mut view.rows {
        let tag = row.text(0).to_owned();
        // The tag as a field, not in the path: a tag is any printable ASCII, `/` too.
        row.actions.push(
            Action::post(
                lang,
                "chg_remove",
                "/console/charging/cards/delete".to_owned(),
            )
            .field("id_tag", tag)
            .danger(),
        );
    }
    Ok(html(
        lang,
        &CardsPage {
            c: Chrome::new(session, AREA, "chg_cards_title"),
            tabs: area_tabs(session),
            form,
            table: view.finish(),
        },
    ))
}

/// `POST /console/charging/cards` `id_tag, driver`: gives a card to a driver, as
/// `PUT /admin/v1/charging/tags/{idTag}` (a card given again moves to the new driver).
pub async fn card_save(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    body: Bytes,
) -> Page {
    session.operator_only()?;
    let fields = posted(&session, &headers, &body)?;
    let lang = session.lang;
    let mut form = CardForm {
        id_tag: fields.text("id_tag").chars().take(64).collect(),
        driver: fields.text("driver").chars().take(100).collect(),
        ..CardForm::default()
    };
    if form.driver.is_empty() {
        form.driver_error = Some(lang.t("chg_need_driver").to_owned());
    } else {
        match state.boxes.put_tag(&form.id_tag, &form.driver).await {
            Ok(()) => {
                tracing::info!(operator = %session.name(), driver = %form.driver, "driver card registered from the console");
                return Ok(after("/console/charging/cards", true, lang.t("done")));
            }
            Err(Error::Invalid(i)) => form.id_tag_error = Some(i.message),
            Err(Error::NotFound(_)) => {
                form.driver_error = Some(lang.t("chg_no_driver").to_owned());
            }
            Err(e) => return Err(e.into()),
        }
    }
    let mut res = cards_view(&state, &session, form).await?;
    *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    Ok(res)
}

/// `POST /console/charging/cards/delete` `id_tag`: the card is taken back.
pub async fn card_delete(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    body: Bytes,
) -> Page {
    session.operator_only()?;
    let fields = posted(&session, &headers, &body)?;
    let tag = fields.get("id_tag").unwrap_or("").to_owned();
    let result = state.boxes.delete_tag(&tag).await;
    if result.is_ok() {
        tracing::info!(operator = %session.name(), "driver card removed from the console");
    }
    Ok(done(session.lang, &fields, result))
}

pub const WORDS: &[(&str, &str, &str)] = &[
    ("chg_boxes", "充电机", "Charge boxes"),
    ("chg_boxes_title", "OCPP 充电机", "OCPP charge boxes"),
    ("chg_cards_title", "司机充电卡", "Drivers' cards"),
    ("chg_box", "充电机编号", "Box id"),
    ("chg_box_vendor", "厂商", "Vendor"),
    ("chg_box_model", "型号", "Model"),
    ("chg_box_serial", "序列号", "Serial number"),
    ("chg_box_firmware", "固件", "Firmware"),
    ("chg_box_booted", "最近启动", "Last boot"),
    ("chg_box_seen", "最近通信", "Last heard"),
    ("chg_box_link", "连接", "Link"),
    ("chg_box_online", "在线", "Online"),
    (
        "chg_box_unbooted",
        "已连接，未启动",
        "Connected, not booted",
    ),
    ("chg_box_offline", "离线", "Offline"),
    ("chg_box_status", "状态", "Status"),
    ("chg_box_session", "当前充电", "Charging now"),
    (
        "chg_box_new",
        "登记或修改充电机",
        "Register or change a box",
    ),
    (
        "chg_box_password_hint",
        "16 至 40 个字符；修改已有充电机时留空则不变",
        "16 to 40 characters; leave empty to keep an existing box's",
    ),
    ("chg_pile_keep", "不变", "Unchanged"),
    (
        "chg_pile_none",
        "不绑定（桩为模拟桩）",
        "None (the pile is simulated)",
    ),
    ("chg_remove", "删除", "Remove"),
    ("chg_reset", "重启", "Reset"),
    ("chg_unlock", "解锁枪头", "Unlock connector"),
    ("chg_box_answer", "充电机应答", "The box answered"),
    ("chg_box_silent", "充电机未应答", "The box did not answer"),
    ("chg_no_pile", "没有这个充电桩", "No such pile"),
    ("chg_card_new", "发放充电卡", "Give a card"),
    ("chg_id_tag", "卡号", "Card number (id tag)"),
    ("chg_no_driver", "没有这个司机", "No such driver"),
    (
        "chg_need_driver",
        "请输入司机的用户名",
        "Enter the driver's user name",
    ),
];
