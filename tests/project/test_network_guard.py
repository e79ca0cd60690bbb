"""The suite may reach only this machine's loopback address."""

import socket

import pytest
from pytest_socket import SocketConnectBlockedError


@pytest.mark.filterwarnings("ignore:A test tried to use socket")
def test_connection_to_an_address_outside_the_allow_list_is_blocked():
    # 127.0.0.2 is on this machine too, but not allowed: the guard refuses before connecting.
    with pytest.raises(SocketConnectBlockedError):
        socket.create_connection(("127.0.0.2", 9), timeout=1)
