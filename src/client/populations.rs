//! Populations: `/environments/{env}/populations[/{populationID}]`
//! (<https://developer.pingidentity.com/pingone-api/platform/populations.html>), the scopes of
//! `POPULATION` role assignments.
//!
//! Population names are unique in an environment, so a create whose answer was lost can be
//! checked exactly with [`Client::population_named`] (see [`super::write_once`]).

use super::model::IdRef;
use super::{Client, ClientError, decode, decode_error};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// A population as PingOne returns it (the fields a role scope needs).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Population {
    /// Population id: the `id` of a `POPULATION` scope.
    pub id: String,
    /// Its name, unique in its environment.
    pub name: String,
    /// Human text.
    #[serde(default)]
    pub description: Option<String>,
    /// Whether new users land here when none is named.
    #[serde(default)]
    pub default: bool,
    /// The environment it belongs to.
    #[serde(default)]
    pub environment: Option<IdRef>,
}

impl Client {
    /// `GET /environments/{env}/populations`, all pages.
    pub async fn populations(&self, environment_id: &str) -> Result<Vec<Population>, ClientError> {
        let url = self
            .inner
            .api(&["environments", environment_id, "populations"])?;
        self.list(url, "populations").await
    }

    /// `GET /environments/{env}/populations/{id}`.
    pub async fn population(
        &self,
        environment_id: &str,
        population_id: &str,
    ) -> Result<Population, ClientError> {
        let url =
            self.inner
                .api(&["environments", environment_id, "populations", population_id])?;
        self.get(url).await
    }

    /// The population of that name in the environment, if there is one.
    pub async fn population_named(
        &self,
        environment_id: &str,
        name: &str,
    ) -> Result<Option<Population>, ClientError> {
        Ok(self
            .populations(environment_id)
            .await?
            .into_iter()
            .find(|population| population.name == name))
    }

    /// `POST /environments/{env}/populations` with a name and an optional description. Sent
    /// once: after an answer that leaves the outcome unknown, check with
    /// [`Client::population_named`].
    pub async fn create_population(
        &self,
        environment_id: &str,
        name: &str,
        description: Option<&str>,
    ) -> Result<Population, ClientError> {
        let url = self
            .inner
            .api(&["environments", environment_id, "populations"])?;
        let path = url.path().to_owned();
        let mut body = json!({ "name": name });
        if let Some(description) = description {
            body["description"] = json!(description);
        }
        let answer = self.inner.send(Method::POST, url, Some(&body)).await?;
        let population: Population = decode("POST", &path, answer)?;
        if population.id.is_empty() {
            return Err(decode_error(
                "POST",
                &path,
                "the new population has no id".into(),
            ));
        }
        Ok(population)
    }

    /// `DELETE /environments/{env}/populations/{id}`. PingOne refuses the default population
    /// and one that still has users.
    pub async fn delete_population(
        &self,
        environment_id: &str,
        population_id: &str,
    ) -> Result<(), ClientError> {
        let url =
            self.inner
                .api(&["environments", environment_id, "populations", population_id])?;
        self.inner.send(Method::DELETE, url, None).await?;
        Ok(())
    }
}
