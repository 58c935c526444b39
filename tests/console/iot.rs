//! The console's IoT area: every page for an operator, and for the IoT platform's own
//! accounts each exactly its range (seed 002's "用户后台分级 和 权限控制"); ticket, order and
//! device moves through the IoT services, with their refusals.

use serde_json::json;
use utilhall::domain::iot::demo::ac02_product;
use utilhall::domain::iot::devices::NewDevices;
use utilhall::domain::iot::model::Party;
use utilhall::domain::iot::orders::{NewOrder, OrderLine, Receiver, Shipping};
use utilhall::domain::iot::parties::{caller_of, new_party};
use utilhall::domain::iot::partners::{NewAgent, NewVendor, VendorDetails};
use utilhall::domain::iot::products::NewProduct;
use utilhall::domain::iot::tickets::{self, NewTicket};
use utilhall::domain::iot::{Caller, Input, Range, Role, password_digest};
use utilhall::store::iot::UserRow;

use crate::common::console::{Console, operator, sign_in, try_sign_in};
use crate::common::{TestApp, spawn_app, spawn_with};

/// Whether `text` is on the page escaped (as `&lt;` or `&#60;`), and nowhere as markup.
fn escaped(body: &str, text: &str) -> bool {
    let named = text.replace('<', "&lt;").replace('>', "&gt;");
    let numbered = text.replace('<', "&#60;").replace('>', "&#62;");
    !body.contains(text) && (body.contains(&named) || body.contains(&numbered))
}

/// The IoT platform, as the tests act on the domain.
fn platform() -> Caller {
    Caller {
        uid: "test-platform".into(),
        role: Role::Platform,
        vid: None,
        agent: None,
        dealer: None,
    }
}

fn object(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// A second vendor (`acme` / `acme12345`) with a device, a member's order and a ticket.
struct Acme {
    did: String,
    oid: String,
    tid: String,
}

async fn second_vendor(app: &TestApp) -> Acme {
    let iot = &app.state.iot;
    let vendor = iot
        .partners
        .create_vendor(
            &platform(),
            Input::ok(NewVendor {
                login: "acme".into(),
                pwd: password_digest("acme12345"),
                code: Some("ACME".into()),
                mobile: Some("13900000009".into()),
                details: VendorDetails {
                    texts: object(json!({"name": "<b>Acme</b> 净水"})),
                    wechat: object(json!({})),
                    secrets: object(json!({})),
                    mch_appid_given: false,
                },
                state: None,
                utype: None,
            }),
        )
        .await
        .expect("vendor");
    let brand = caller_of(&vendor);
    let product = iot
        .catalog
        .create(
            &brand,
            Input::ok(NewProduct {
                vid: None,
                fields: ac02_product(),
            }),
        )
        .await
        .expect("product");
    let did = "ACME01234567B001".to_owned();
    iot.devices
        .register(
            &platform(),
            Input::ok(NewDevices {
                dids: vec![did.clone()],
                vid: vendor.uid.clone(),
                product_id: Some(product.pid.clone()),
                dtype: 1,
                profile: object(json!({"name": "Acme 净水机"})),
            }),
        )
        .await
        .expect("device");
    // A member of its own, written as the demo writes its members.
    let member = Party {
        mobile: Some("13900000010".into()),
        ..new_party(
            "ACME0000000000M1".into(),
            Role::Member,
            Some(vendor.uid.clone()),
            object(json!({"name": "钱五"})),
            app.state.records.now().millis(),
        )
    };
    let mut tx = app.state.store.begin_write().await.expect("tx");
    utilhall::store::iot::insert_user(&mut tx, &UserRow::from(&member))
        .await
        .expect("member");
    tx.commit().await.expect("commit");
    let order = iot
        .orders
        .create(
            &caller_of(&member),
            Input::ok(NewOrder {
                lines: vec![OrderLine {
                    product_id: product.pid.clone(),
                    quantity: 1,
                    rent: None,
                    device_id: None,
                }],
                shipping: Input::ok(Shipping {
                    receiver: Receiver {
                        name: "钱五".into(),
                        phone: "13900000010".into(),
                        area: "广东省".into(),
                        address: "珠海".into(),
                        zipcode: String::new(),
                    },
                    memo: String::new(),
                }),
            }),
        )
        .await
        .expect("order");
    let ticket = iot
        .tickets
        .create(
            &brand,
            Input::ok(NewTicket {
                ttype: tickets::FAULT,
                detail: "Acme 故障".into(),
                device_id: Some(did.clone()),
                order_id: Input::ok(None),
                user_id: Input::ok(None),
                appoint_at: Input::ok(None),
            }),
        )
        .await
        .expect("ticket");
    Acme {
        did,
        oid: order.oid,
        tid: ticket.tid,
    }
}

/// The demo's fault ticket (of dochen, created).
async fn demo_ticket(app: &TestApp) -> String {
    app.state
        .iot
        .tickets
        .all(&platform(), Range::Anyone)
        .await
        .expect("tickets")
        .into_iter()
        .find(|t| t.ttype == tickets::FAULT && t.vid == "DOCH000000000001")
        .expect("the demo's fault ticket")
        .tid
}

async fn ticket_status(app: &TestApp, tid: &str) -> i64 {
    app.state
        .iot
        .tickets
        .get(&platform(), tid)
        .await
        .expect("ticket")
        .status
}

async fn setup() -> (TestApp, Acme) {
    let app = spawn_app().await;
    app.state.load_demo().await.expect("demo");
    let acme = second_vendor(&app).await;
    (app, acme)
}

#[tokio::test]
async fn operators_see_every_vendor_on_every_page() {
    let (app, acme) = setup().await;
    let op = operator(&app).await;
    let devices = op.get("/console/iot/devices").await;
    assert_eq!(devices.status, 200, "{}", devices.body);
    assert!(devices.has("DOCH01234567A001") && devices.has(&acme.did));
    assert!(devices.has("href=\"/console/iot/devices/DOCH01234567A001\""));
    assert!(devices.has("离线"), "online state shown");
    for (path, needles) in [
        (
            "/console/iot/vendors",
            vec!["dochen", "acme", "东臣科技实业"],
        ),
        (
            "/console/iot/agents",
            vec!["dochen_agent", "dochen_dealer", "珠海代理商", "└ "],
        ),
        ("/console/iot/members", vec!["13800000001", "张一", "钱五"]),
        (
            "/console/iot/orders",
            vec![acme.oid.as_str(), "待付款", "已发货"],
        ),
        (
            "/console/iot/tickets",
            vec![acme.tid.as_str(), "制水故障", "创建"],
        ),
        ("/console/iot/commissions", vec!["625.80", "iot-pending"]),
        ("/console/iot/withdrawals", vec!["没有记录"]),
    ] {
        let page = op.get(path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        for n in needles {
            assert!(page.has(n), "{path} shows {n}: {}", page.body);
        }
    }
    // The vendor's name is escaped.
    let vendors = op.get("/console/iot/vendors").await;
    assert!(escaped(&vendors.body, "<b>Acme</b>"), "{}", vendors.body);
    // The CSV carries the name, not the profile it is read from.
    let csv = op.get("/console/iot/vendors?format=csv").await;
    assert!(csv.body.contains("<b>Acme</b>"), "{}", csv.body);
    assert!(!csv.body.contains("\"name\""), "{}", csv.body);

    // Search, filter, sort, paging and CSV, in SQL.
    let found = op.get("/console/iot/devices?q=ACME").await;
    assert!(found.has(&acme.did) && !found.has("DOCH01234567A001"));
    assert!(found.has("<b class=\"total\">1</b>"), "{}", found.body);
    let offline = op.get("/console/iot/devices?online=0").await;
    assert!(offline.has("<b class=\"total\">4</b>"), "{}", offline.body);
    let online = op.get("/console/iot/devices?online=1").await;
    assert!(online.has("<b class=\"total\">0</b>"));
    let bad = op
        .get("/console/iot/devices?online=x&page=abc&sort=nothing")
        .await;
    assert_eq!(bad.status, 200);
    let sorted = op
        .get("/console/iot/devices?sort=id&order=desc&size=1")
        .await;
    assert!(sorted.has("DOCH01234567A003") && !sorted.has("DOCH01234567A001"));
    assert!(sorted.has("rel=\"next\""));
    let csv = op.get("/console/iot/devices?format=csv").await;
    assert_eq!(csv.status, 200);
    assert!(csv.body.contains(&acme.did) && csv.body.contains("DOCH01234567A002"));
    let paid = op.get("/console/iot/orders?state=paid").await;
    assert!(paid.has("<b class=\"total\">1</b>"), "{}", paid.body);
    let created = op.get("/console/iot/tickets?status=1").await;
    assert!(created.has(&acme.tid) && created.has("审核通过"));

    // Objects of every vendor open for the operator.
    let device = op.get(&format!("/console/iot/devices/{}", acme.did)).await;
    assert_eq!(device.status, 200, "{}", device.body);
    assert!(device.has("PPC复合滤芯") && device.has("复位滤芯") && device.has("id=\"cmd-lock\""));
    assert_eq!(
        op.get(&format!("/console/iot/orders/{}", acme.oid))
            .await
            .status,
        200
    );
    assert_eq!(
        op.get(&format!("/console/iot/tickets/{}", acme.tid))
            .await
            .status,
        200
    );
    assert_eq!(op.get("/console/iot/devices/NOPE").await.status, 404);
}

#[tokio::test]
async fn a_vendor_sees_only_its_own_range() {
    let (app, acme) = setup().await;
    let dochen = sign_in(&app, "iot", "dochen", "dochen123").await;
    let devices = dochen.get("/console/iot/devices").await;
    assert_eq!(devices.status, 200);
    assert!(devices.has("DOCH01234567A001"));
    assert!(
        !devices.has(&acme.did),
        "another vendor's device is not listed"
    );
    assert!(!devices.has("/console/iot/vendors"), "no vendors' tab");
    let csv = dochen.get("/console/iot/devices?format=csv").await;
    assert!(csv.body.contains("DOCH01234567A001"));
    assert!(!csv.body.contains(&acme.did), "nor exported");
    let searched = dochen.get("/console/iot/devices?q=ACME").await;
    assert!(searched.has("<b class=\"total\">0</b>"));
    assert_eq!(
        dochen
            .get(&format!("/console/iot/devices/{}", acme.did))
            .await
            .status,
        404
    );
    let tickets = dochen.get("/console/iot/tickets").await;
    assert!(tickets.has("制水故障") && !tickets.has(&acme.tid));
    assert!(
        !dochen
            .get("/console/iot/tickets?format=csv")
            .await
            .body
            .contains(&acme.tid)
    );
    assert_eq!(
        dochen
            .get(&format!("/console/iot/tickets/{}", acme.tid))
            .await
            .status,
        404
    );
    let orders = dochen.get("/console/iot/orders").await;
    assert!(orders.has("<b class=\"total\">3</b>") && !orders.has(&acme.oid));
    assert!(
        !dochen
            .get("/console/iot/orders?format=csv")
            .await
            .body
            .contains(&acme.oid)
    );
    assert_eq!(
        dochen
            .get(&format!("/console/iot/orders/{}", acme.oid))
            .await
            .status,
        404
    );
    let members = dochen.get("/console/iot/members").await;
    assert!(members.has("张一") && !members.has("钱五"));
    // The vendors' list is the platform's: the domain refuses a vendor.
    assert_eq!(dochen.get("/console/iot/vendors").await.status, 403);
    // And the other vendor sees none of dochen's.
    let acme_console = sign_in(&app, "iot", "acme", "acme12345").await;
    let theirs = acme_console.get("/console/iot/devices").await;
    assert!(theirs.has(&acme.did) && !theirs.has("DOCH01234567A001"));
}

#[tokio::test]
async fn agents_and_dealers_see_their_own_range() {
    let (app, acme) = setup().await;
    let agent = sign_in(&app, "iot", "dochen_agent", "agent123").await;
    let tree = agent.get("/console/iot/agents").await;
    assert_eq!(tree.status, 200);
    assert!(tree.has("dochen_agent") && tree.has("dochen_dealer") && tree.has("香洲经销商"));
    let orders = agent.get("/console/iot/orders").await;
    assert!(
        orders.has("<b class=\"total\">3</b>"),
        "赵四's orders: {}",
        orders.body
    );
    assert_eq!(agent.get("/console/iot/vendors").await.status, 403);
    assert_eq!(
        agent
            .get(&format!("/console/iot/tickets/{}", acme.tid))
            .await
            .status,
        404
    );

    let dealer = sign_in(&app, "iot", "dochen_dealer", "dealer123").await;
    let tree = dealer.get("/console/iot/agents").await;
    assert!(tree.has("<b class=\"total\">1</b>") && tree.has("香洲经销商"));
    assert!(!tree.has("珠海代理商"), "a dealer does not see its agent");
    assert!(dealer.get("/console/iot/members").await.has("张一"));

    // Another agent of dochen's has nothing of the first one's.
    let brand = caller_of(
        &app.state
            .iot
            .partners
            .vendor(&platform(), "DOCH000000000001")
            .await
            .expect("dochen"),
    );
    app.state
        .iot
        .partners
        .create_agent(
            &brand,
            Input::ok(NewAgent {
                vid: None,
                parent: None,
                login: "other_agent".into(),
                pwd: password_digest("other123"),
                profile: object(json!({"name": "另一代理"})),
                mobile: Some("13700000009".into()),
            }),
        )
        .await
        .expect("agent");
    let other = sign_in(&app, "iot", "other_agent", "other123").await;
    assert!(
        other
            .get("/console/iot/orders")
            .await
            .has("<b class=\"total\">0</b>")
    );
    assert!(
        other
            .get("/console/iot/members")
            .await
            .has("<b class=\"total\">0</b>")
    );
    let tree = other.get("/console/iot/agents").await;
    assert!(tree.has("另一代理") && !tree.has("香洲经销商"));
    let demo_ticket = demo_ticket(&app).await;
    assert_eq!(
        other
            .get(&format!("/console/iot/tickets/{demo_ticket}"))
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn a_vendor_approves_its_ticket_and_is_refused_another_vendors() {
    let (app, acme) = setup().await;
    let dochen = sign_in(&app, "iot", "dochen", "dochen123").await;
    let tid = demo_ticket(&app).await;
    let list = dochen.get("/console/iot/tickets").await;
    assert!(
        list.has(&format!("/console/iot/tickets/{tid}/act")),
        "approve on the list"
    );
    let approve = [("move", "approve"), ("check_result", "true")];
    let back = "/console/iot/tickets";
    let r = dochen
        .post(&format!("/console/iot/tickets/{tid}/act"), back, &approve)
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        r.flash(),
        Some((true, "操作成功".into())),
        "{:?}",
        r.location
    );
    assert_eq!(ticket_status(&app, &tid).await, tickets::APPROVED);
    let page = dochen.get(&format!("/console/iot/tickets/{tid}")).await;
    assert!(page.has("审核") && page.has("id=\"move-dispatch\""));
    // Approving again: the state refuses, shown as the message.
    let again = dochen
        .post(&format!("/console/iot/tickets/{tid}/act"), back, &approve)
        .await;
    let (ok, text) = again.flash().expect("a message");
    assert!(!ok && text.contains("cannot be approved"), "{text}");

    // Another vendor's ticket: not found, and unchanged.
    let refused = dochen
        .post(
            &format!("/console/iot/tickets/{}/act", acme.tid),
            back,
            &approve,
        )
        .await;
    assert_eq!(refused.status, 404, "{}", refused.body);
    assert_eq!(ticket_status(&app, &acme.tid).await, tickets::CREATED);

    // Dispatch without a handler: the form again, the message at the field.
    let here = format!("/console/iot/tickets/{tid}");
    let empty = dochen
        .post(
            &format!("{here}/act"),
            &here,
            &[("move", "dispatch"), ("installer_id", "")],
        )
        .await;
    assert_eq!(empty.status, 422);
    assert!(empty.has("class=\"field-error\""), "{}", empty.body);
    let bad_time = dochen
        .post(
            &format!("{here}/act"),
            &here,
            &[
                ("move", "dispatch"),
                ("installer_id", "<i>王师傅</i>"),
                ("appoint_tms", "soon"),
            ],
        )
        .await;
    assert_eq!(bad_time.status, 422);
    assert!(escaped(&bad_time.body, "<i>王师傅</i>"), "kept, escaped");
    let sent = dochen
        .post(
            &format!("{here}/act"),
            &here,
            &[
                ("move", "dispatch"),
                ("installer_id", "<i>王师傅</i>"),
                ("appoint_tms", "2024-05-01T10:30"),
            ],
        )
        .await;
    assert_eq!(sent.flash().map(|f| f.0), Some(true));
    let page = dochen.get(&here).await;
    assert!(escaped(&page.body, "<i>王师傅</i>"));
    for to in ["4", "6"] {
        let moved = dochen
            .post(
                &format!("{here}/act"),
                &here,
                &[("move", "status"), ("status", to), ("reply", "已处理")],
            )
            .await;
        assert_eq!(moved.flash().map(|f| f.0), Some(true), "{to}");
    }
    assert_eq!(ticket_status(&app, &tid).await, tickets::DONE);

    // An agent may not approve (A#): the domain refuses.
    let op = operator(&app).await;
    let agent = sign_in(&app, "iot", "dochen_agent", "agent123").await;
    assert_eq!(ticket_status(&app, &acme.tid).await, tickets::CREATED);
    let r = agent
        .post(
            &format!("/console/iot/tickets/{}/act", acme.tid),
            back,
            &approve,
        )
        .await;
    assert!(matches!(r.status, 403 | 404));
    // The operator (as the platform) approves any vendor's.
    let r = op
        .post(
            &format!("/console/iot/tickets/{}/act", acme.tid),
            back,
            &approve,
        )
        .await;
    assert_eq!(r.flash().map(|f| f.0), Some(true));
    assert_eq!(ticket_status(&app, &acme.tid).await, tickets::APPROVED);
}

#[tokio::test]
async fn orders_move_as_their_state_allows() {
    let (app, _acme) = setup().await;
    let op = operator(&app).await;
    let paid = app
        .state
        .iot
        .orders
        .list(
            &platform(),
            &utilhall::domain::iot::listing::ListRequest {
                filters: vec![("state".into(), "paid".into())],
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .expect("orders")
        .expect("a page")
        .items[0]
        .oid
        .clone();
    let here = format!("/console/iot/orders/{paid}");
    let page = op.get(&here).await;
    assert_eq!(page.status, 200);
    assert!(page.has("id=\"move-deliver\"") && page.has("智能净水机"));
    let missing = op
        .post(
            &format!("{here}/act"),
            &here,
            &[
                ("move", "deliver"),
                ("company", "顺丰"),
                ("tracking_num", ""),
            ],
        )
        .await;
    assert_eq!(missing.status, 422);
    assert!(missing.has("class=\"field-error\"") && missing.has("value=\"顺丰\""));
    let done = op
        .post(
            &format!("{here}/act"),
            &here,
            &[
                ("move", "deliver"),
                ("company", "顺丰"),
                ("tracking_num", "SF1"),
            ],
        )
        .await;
    assert_eq!(done.flash().map(|f| f.0), Some(true), "{:?}", done.location);
    let page = op.get(&here).await;
    assert!(page.has("已发货") && page.has("SF1"));
    // The same move again: the state refuses it.
    let again = op
        .post(
            &format!("{here}/act"),
            &here,
            &[
                ("move", "deliver"),
                ("company", "顺丰"),
                ("tracking_num", "SF2"),
            ],
        )
        .await;
    assert_eq!(again.flash().map(|f| f.0), Some(false));
    assert_eq!(
        op.post(&format!("{here}/act"), &here, &[("move", "fly")])
            .await
            .status,
        400
    );
}

#[tokio::test]
async fn a_command_to_an_offline_device_is_refused_on_the_page() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let app = spawn_with(|c| {
        c.iot.mqtt_url = None;
        c.iot.embedded_broker = format!("127.0.0.1:{port}");
    })
    .await;
    app.state.load_demo().await.expect("demo");
    let dochen = sign_in(&app, "iot", "dochen", "dochen123").await;
    let here = "/console/iot/devices/DOCH01234567A001";
    // The link comes up shortly after start; until then the refusal says so.
    let mut text = String::new();
    for _ in 0..100 {
        let r = dochen
            .post(&format!("{here}/command"), here, &[("op", "lock")])
            .await;
        let (ok, t) = r.flash().expect("a message");
        assert!(!ok, "an offline device takes no command");
        text = t;
        if text.contains("offline") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(text.contains("is offline"), "{text}");
    let page = dochen.get(&format!("{here}?err=x")).await;
    assert!(page.has("class=\"flash err\""));
    let unknown = dochen
        .post(&format!("{here}/command"), here, &[("op", "explode")])
        .await;
    assert_eq!(unknown.flash().map(|f| f.0), Some(false));
    // A device out of range: not found.
    let dealer = sign_in(&app, "iot", "dochen_dealer", "dealer123").await;
    let r = dealer
        .post(
            "/console/iot/devices/DOCHSIM0001/command",
            here,
            &[("op", "lock")],
        )
        .await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn members_cannot_sign_in_and_changes_need_the_csrf_value() {
    let (app, acme) = setup().await;
    let member = try_sign_in(&app, "iot", "13800000001", "member123").await;
    assert!(member.is_err(), "a member has no console");
    let op: Console = operator(&app).await;
    let r = op
        .post_raw(
            &format!("/console/iot/tickets/{}/act", acme.tid),
            &[("move", "approve"), ("check_result", "true")],
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(ticket_status(&app, &acme.tid).await, tickets::CREATED);
    let r = op
        .post_raw(
            &format!("/console/iot/devices/{}/command", acme.did),
            &[("_csrf", "0000"), ("op", "lock")],
        )
        .await;
    assert_eq!(r.status, 403);
    // Without a session: to sign-in.
    let anon = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(format!("{}/console/iot/devices", app.base))
        .send()
        .await
        .expect("sent");
    assert_eq!(anon.status(), 303);
}

#[tokio::test]
async fn agents_withdraw_from_the_console_and_see_why_not() {
    let (app, _) = setup().await;
    let agent = sign_in(&app, "iot", "dochen_agent", "agent123").await;
    let page = agent.get("/console/iot/withdrawals").await;
    assert!(page.has("id=\"withdraw\""), "{}", page.body);
    let back = "/console/iot/withdrawals";
    // An amount that is no sum of money: refused, with the field's message.
    let bad = agent
        .post("/console/iot/withdrawals", back, &[("amount", "lots")])
        .await;
    assert_eq!(bad.status, 303, "{}", bad.body);
    let (ok, text) = bad.flash().expect("a message");
    assert!(!ok && text.contains("amount"), "{text}");
    // Nothing available yet (commissions become available a week after the order is received).
    let none = agent
        .post("/console/iot/withdrawals", back, &[("amount", "")])
        .await;
    let (ok, text) = none.flash().expect("a message");
    assert!(!ok && text.contains("no available commission"), "{text}");
    assert!(
        agent
            .get("/console/iot/withdrawals")
            .await
            .has("<b class=\"total\">0</b>")
    );

    // A vendor earns no commissions: no form, and the domain refuses one posted anyway.
    let dochen = sign_in(&app, "iot", "dochen", "dochen123").await;
    assert!(
        !dochen
            .get("/console/iot/withdrawals")
            .await
            .has("id=\"withdraw\"")
    );
    let refused = dochen
        .post("/console/iot/withdrawals", back, &[("amount", "1")])
        .await;
    let (ok, text) = refused.flash().expect("a message");
    assert!(!ok && text.contains("earn no commissions"), "{text}");
}
