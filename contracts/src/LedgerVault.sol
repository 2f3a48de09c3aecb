// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

interface IERC20 {
    function transfer(address to, uint256 value) external returns (bool);
    function transferFrom(address from, address to, uint256 value) external returns (bool);
}

/// Holds an ERC-20 token for one bidtorrent ledger.
///
/// In: `deposit(amount, account)` locks `amount` tokens of the caller and emits `Deposited`
/// naming the ledger account (an ed25519 public key) to credit; the ledger credits each
/// deposit event once, after its confirmations.
///
/// Out: `withdraw(to, amount, nonce, deadline, v, r, s)` pays `amount` to `to` against an
/// EIP-712 `Withdrawal` signed by the ledger's chain key (`signer`, secp256k1). Each nonce
/// pays at most once; an authorisation past its deadline pays nothing (so the ledger may
/// later refund one that was never used). Anyone may submit an authorisation; the tokens
/// only ever go to the `to` it names.
contract LedgerVault {
    /// Largest amount of one deposit or withdrawal: the ledger keeps amounts as signed
    /// 64-bit micro-tokens.
    uint256 public constant MAX_AMOUNT = 2 ** 63 - 1;
    bytes32 public constant WITHDRAWAL_TYPEHASH =
        keccak256("Withdrawal(address to,uint256 amount,uint256 nonce,uint256 deadline)");
    /// secp256k1 group order / 2: signatures with a higher `s` are malleable copies.
    uint256 private constant HALF_ORDER =
        0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;

    IERC20 public immutable token;
    address public immutable signer;
    /// The ledger's id (its ed25519 public key), bound into every authorisation's domain.
    bytes32 public immutable ledger;
    bytes32 public immutable DOMAIN_SEPARATOR;
    mapping(uint256 => bool) public used;

    event Deposited(bytes32 indexed account, address indexed from, uint256 amount);
    event Withdrawn(uint256 indexed nonce, address indexed to, uint256 amount);

    constructor(IERC20 token_, address signer_, bytes32 ledger_) {
        require(signer_ != address(0), "signer zero");
        token = token_;
        signer = signer_;
        ledger = ledger_;
        DOMAIN_SEPARATOR = keccak256(
            abi.encode(
                keccak256(
                    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract,bytes32 salt)"
                ),
                keccak256("bidtorrent ledger vault"),
                keccak256("1"),
                block.chainid,
                address(this),
                ledger_
            )
        );
    }

    function deposit(uint256 amount, bytes32 account) external {
        require(amount > 0 && amount <= MAX_AMOUNT, "amount");
        require(account != bytes32(0), "account");
        require(token.transferFrom(msg.sender, address(this), amount), "transferFrom");
        emit Deposited(account, msg.sender, amount);
    }

    function withdraw(
        address to,
        uint256 amount,
        uint256 nonce,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external {
        require(!used[nonce], "nonce used");
        require(block.timestamp <= deadline, "expired");
        require(uint256(s) <= HALF_ORDER, "malleable signature");
        bytes32 digest = keccak256(
            abi.encodePacked(
                "\x19\x01",
                DOMAIN_SEPARATOR,
                keccak256(abi.encode(WITHDRAWAL_TYPEHASH, to, amount, nonce, deadline))
            )
        );
        address who = ecrecover(digest, v, r, s);
        require(who != address(0) && who == signer, "bad signature");
        used[nonce] = true;
        require(token.transfer(to, amount), "transfer");
        emit Withdrawn(nonce, to, amount);
    }
}
