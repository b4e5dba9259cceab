"""Every worker process is its own Celery node, even on hosts with the same hostname."""

from worker.node_names import unique_node_name


def test_two_workers_on_hosts_with_one_hostname_get_two_names() -> None:
    first, second = unique_node_name("worker@box"), unique_node_name("worker@box")
    assert first != second
    assert first.startswith("worker-") and first.endswith("@box")


def test_a_bare_host_gets_celery_s_default_name() -> None:
    assert unique_node_name("box.example").startswith("celery-")
    assert unique_node_name("box.example").endswith("@box.example")
