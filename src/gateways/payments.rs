//! Payment gateways other than WeChat Pay itself: the `--dev` simulator, and "not configured".

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::Timestamp;
use crate::domain::ids;
use crate::domain::payments::{
    ClientPayParams, GatewayError, GatewayFuture, PaymentGateway, PrepayRequest, TradeState,
};

/// `--dev` without WeChat Pay configured: well-formed parameters, and payments completed by an
/// operator (`POST /admin/v1/heating/orders/{id}/simulate-payment`). Never active without `--dev`.
pub struct SimulatedGateway {
    key: [u8; 32],
}

impl SimulatedGateway {
    pub fn new() -> Self {
        let mut key = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut key);
        SimulatedGateway { key }
    }
}

impl Default for SimulatedGateway {
    fn default() -> Self {
        Self::new()
    }
}

impl PaymentGateway for SimulatedGateway {
    fn name(&self) -> &'static str {
        "simulated"
    }

    fn is_simulated(&self) -> bool {
        true
    }

    fn prepay(&self, req: PrepayRequest) -> GatewayFuture<'_, String> {
        Box::pin(async move { Ok(format!("wx_sim_{}", req.out_trade_no)) })
    }

    fn client_params(
        &self,
        prepay_id: &str,
        now: Timestamp,
    ) -> Result<ClientPayParams, GatewayError> {
        let app_id = "wxsimulated000000".to_owned();
        let time_stamp = now.secs().to_string();
        let nonce_str = ids::random_hex_id();
        let package = format!("prepay_id={prepay_id}");
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .map_err(|e| GatewayError(e.to_string()))?;
        mac.update(format!("{app_id}\n{time_stamp}\n{nonce_str}\n{package}\n").as_bytes());
        let pay_sign = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            mac.finalize().into_bytes(),
        );
        Ok(ClientPayParams {
            app_id,
            time_stamp,
            nonce_str,
            package,
            sign_type: "RSA".into(),
            pay_sign,
        })
    }

    fn query(&self, _out_trade_no: String) -> GatewayFuture<'_, TradeState> {
        Box::pin(async { Ok(TradeState::NotPaid) })
    }

    fn close(&self, _out_trade_no: String) -> GatewayFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }
}

/// No gateway configured (and not `--dev`): every payment is refused clearly.
pub struct NoGateway;

impl PaymentGateway for NoGateway {
    fn name(&self) -> &'static str {
        "none"
    }

    fn prepay(&self, _req: PrepayRequest) -> GatewayFuture<'_, String> {
        Box::pin(async { Err(GatewayError("no payment gateway is configured".into())) })
    }

    fn client_params(
        &self,
        _prepay_id: &str,
        _now: Timestamp,
    ) -> Result<ClientPayParams, GatewayError> {
        Err(GatewayError("no payment gateway is configured".into()))
    }

    fn query(&self, _out_trade_no: String) -> GatewayFuture<'_, TradeState> {
        Box::pin(async { Err(GatewayError("no payment gateway is configured".into())) })
    }

    fn close(&self, _out_trade_no: String) -> GatewayFuture<'_, ()> {
        Box::pin(async { Err(GatewayError("no payment gateway is configured".into())) })
    }
}
