//! A PostgreSQL database of a test's own on the server named by
//! `DATABASE_URL` (created fresh, dropped with the test).
#![allow(dead_code)]

use sqlx::{Connection, Executor};
use std::time::{Duration, Instant};

/// A fresh database on the server named by `DATABASE_URL`, dropped on drop.
pub struct TestDb {
    rt: tokio::runtime::Runtime,
    admin_url: String,
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub fn create(base: &str) -> TestDb {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let name = format!("sy_it_{}", uuid::Uuid::new_v4().simple());
        rt.block_on(async {
            let mut admin = sqlx::postgres::PgConnection::connect(base)
                .await
                .expect("connect to DATABASE_URL");
            admin
                .execute(format!("CREATE DATABASE {name}").as_str())
                .await
                .expect("create the test database");
            admin.close().await.ok();
        });
        TestDb {
            rt,
            admin_url: base.to_string(),
            url: with_database(base, &name),
            name,
        }
    }

    /// Rows of `sql` run against the test database.
    pub fn query(&self, sql: &str) -> Vec<sqlx::postgres::PgRow> {
        self.rt.block_on(async {
            let mut c = sqlx::postgres::PgConnection::connect(&self.url)
                .await
                .expect("connect to the test database");
            let rows = sqlx::query(sql)
                .fetch_all(&mut c)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            c.close().await.ok();
            rows
        })
    }

    /// Polls `sql` until it returns a row (or `timeout`).
    pub fn wait_rows(&self, sql: &str, timeout: Duration) -> Vec<sqlx::postgres::PgRow> {
        let deadline = Instant::now() + timeout;
        loop {
            let rows = self.query(sql);
            if !rows.is_empty() || Instant::now() > deadline {
                return rows;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        let dropped = self.rt.block_on(async move {
            let mut admin = sqlx::postgres::PgConnection::connect(&url).await?;
            admin
                .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                .await?;
            admin.close().await
        });
        if let Err(e) = dropped {
            eprintln!("could not drop test database {}: {e}", self.name);
        }
    }
}

/// `postgres://u@h:p/db?x` with the database name replaced.
fn with_database(base: &str, name: &str) -> String {
    let (url, query) = match base.split_once('?') {
        Some((url, query)) => (url, format!("?{query}")),
        None => (base, String::new()),
    };
    let authority_end = url.find("://").map_or(0, |i| i + 3);
    let root = match url[authority_end..].find('/') {
        Some(slash) => &url[..authority_end + slash],
        None => url,
    };
    format!("{root}/{name}{query}")
}
