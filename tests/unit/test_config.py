"""Settings from the environment, and the MongoDB URI from a Secrets Manager secret."""

from csms.config import Settings, mongodb_uri_from_secret


def test_defaults_point_at_the_local_stack():
    settings = Settings.from_env({})
    assert settings.mongodb_uri == "mongodb://127.0.0.1:27017"
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.pending_call_ttl_seconds == 30


def test_an_explicit_uri_wins_over_the_secret():
    settings = Settings.from_env({"MONGODB_URI": "mongodb://x", "MONGODB_SECRET_ARN": "arn:s"})
    assert settings.mongodb_secret_arn is None


def test_a_uri_secret_is_used_as_it_is():
    assert mongodb_uri_from_secret({"uri": "mongodb://a:b@h/"}, "ca.pem") == "mongodb://a:b@h/"


def test_a_documentdb_secret_becomes_a_tls_uri_with_escaped_credentials():
    uri = mongodb_uri_from_secret(
        {"username": "csms", "password": "p@ss/word", "host": "db.example", "port": 27017},
        "/opt/python/global-bundle.pem",
    )
    assert uri.startswith("mongodb://csms:p%40ss%2Fword@db.example:27017/?tls=true")
    assert "retryWrites=false" in uri and "tlsCAFile=/opt/python/global-bundle.pem" in uri
