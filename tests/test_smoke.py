from tests.helpers import RawClient, ServerProcess


def test_two_clients_chat(server: ServerProcess, connect) -> None:
    alice: RawClient = connect()
    bob: RawClient = connect()
    assert alice.join("alice")["users"] == ["alice"]
    assert bob.join("bob")["users"] == ["alice", "bob"]
    alice.expect("user_joined", username="bob")
    bob.send(type="chat", message="hi")
    frame = alice.expect("chat")
    assert frame["username"] == "bob" and frame["message"] == "hi"
