//! p1run's own API client on an emulator, as its bootstrap admin, for the client's tests.

use p1run::client::{Client, ClientOptions, Credentials, Endpoints, RetryPolicy, TokenAuthMethod};
use p1run::emulator::{Emulator, RequestRecord};
use p1run::secret::Secret;
use std::time::Duration;
use tokio::runtime::Runtime;

/// Quick retries so that tests spend little time waiting; long enough deadlines that they
/// never decide an outcome on a loaded machine.
pub fn quick_retries() -> RetryPolicy {
    RetryPolicy {
        initial_delay: Duration::from_millis(20),
        max_delay: Duration::from_secs(2),
        deadline: Duration::from_secs(30),
        propagation_wait: Duration::from_secs(10),
    }
}

pub fn runtime() -> Runtime {
    Runtime::new().expect("a tokio runtime")
}

pub fn endpoints(emulator: &Emulator) -> Endpoints {
    let info = emulator.info();
    Endpoints::new(&info.api_url, &info.auth_url).expect("the emulator's URLs are loopback")
}

/// Options for the emulator's bootstrap admin worker.
pub fn admin_options(emulator: &Emulator) -> ClientOptions {
    let info = emulator.info();
    let mut options = ClientOptions::new(
        endpoints(emulator),
        Credentials {
            client_id: info.client_id.clone(),
            client_secret: Secret::new(info.client_secret.clone()),
            environment_id: info.environment_id.clone(),
            auth_method: TokenAuthMethod::ClientSecretBasic,
        },
    );
    options.retry = quick_retries();
    options
}

pub fn admin(emulator: &Emulator) -> Client {
    Client::new(admin_options(emulator)).expect("a client")
}

pub fn is_token_request(record: &RequestRecord) -> bool {
    record.method == "POST" && record.path.ends_with("/as/token")
}

pub fn token_requests(emulator: &Emulator) -> usize {
    emulator
        .requests()
        .iter()
        .filter(|r| is_token_request(r))
        .count()
}
