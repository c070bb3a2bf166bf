"""A labelled set of Chinese customer messages: does the customer ask for a person?

Written for bench/human_request.py and kept apart from the examples the desk ships
(apps/knowledge/migrations/0003_human_request_examples.py): no message here is one of them, so a
hit is earned by the detector, not by string equality.

Label policy (the borderline cases, decided once):

- **Asks**: the customer wants a person to take this conversation now: an explicit request in any
  wording, dialect or typo ("帮我接一下真人", "揾个真人", "转仁工"); a question whose point is
  getting one ("有活人吗", "人工在吗", "能人工回复吗"); refusing the bot ("我不想跟机器人说了");
  asking for a named person or team (店长, 经理, 售后) to handle it; asking staff to call back.
- **Does not ask**: questions *about* staff (hours, phone numbers, whether weekends are covered:
  "你们人工客服几点下班？" — the bot can answer these); praise, complaints or reports about an
  earlier agent; "你是真人吗" and other questions about who is replying (the bot answers honestly;
  a customer who then wants a person says so); declining one ("不用转人工了"); plain greetings
  ("有人吗", "在吗": on a shop's chat these open the conversation, the bot greets back).
- **Shop questions**: ordinary questions, several of them with the characters a request uses in
  other senses (转账, 接口, 收件人), and a few longer than 60 characters.
"""

from dataclasses import dataclass

ASKS: tuple[str, ...] = (
    # the issue's own misses and the brief's examples
    "帮我接一下真人",
    "能不能让人来处理",
    "我不想跟机器人说了",
    "叫你们客服出来",
    "有活人吗",
    "转接售后",
    # plain requests
    "转人工客服",
    "人工！！",
    "我要转人工",
    "请转接人工服务，谢谢",
    "给我找个人工",
    "我要跟人说话，不要机器人",
    "能帮我叫一下真人客服吗",
    "麻烦转一下人工",
    "人工客服在吗",
    "有没有人工啊",
    "换个真人来回答我",
    "你们店里有没有活人在啊",
    "别让机器人回我了",
    "我需要跟工作人员沟通",
    "请让人工客服联系我",
    "叫个真人出来",
    # typos, input-method slips, dialect
    "转仁工",
    "转人公",
    "人エ客服",
    "zhuan人工",
    "转个人工呗",
    "俺要找人工",
    "侬帮我转人工好伐",
    "帮我揾个真人",
    "我要揾人工客服",
    "唔该转人工",
    "搞个人工来嘛",
    "找个人跟我讲嘛",
    "能不能找个真人聊聊",
    # a named team or person
    "让你们售后的人来处理",
    "请售后客服跟我联系",
    "我要投诉，找你们经理",
    "叫你们店长出来",
    "把你们老板叫来",
    "转售后",
    "帮我转到售后部门",
    "我要找售后处理",
    "转接退款专员",
    "我要找一个能做主的人",
    # refusing the bot
    "机器人说不清楚，换人",
    "你根本听不懂，我要找人",
    "别自动回复了，要人工",
    "跟机器人说不明白，转人工吧",
    "不要机器人，要人",
    "我不要智能客服",
    "智能客服没用，找人工",
    "不想和AI聊天，给我真人",
    "AI听不懂，我要人工",
    # more ordinary ways
    "我要人工服务",
    "求求了转个人工",
    "可以帮我转接到人工客服吗",
    "能转接一下人工吗",
    "人工人工",
    "需要人工介入",
    "请人工处理一下我的订单",
    "这个问题我要找人工问",
    "我想要人工客服帮我看看",
    "来个人工",
    "客服呢？叫客服",
    "客服出来一下",
    "有客服在吗，我要找客服",
    "找真人",
    "真人客服",
    "真人",
    "请给我一个真人",
    "让人工跟我说",
    "我想和客服人员直接对话",
    "能否安排一位客服处理",
    "让客服打电话给我",
    "请客服给我回电话",
    "喂喂，有人工没",
    "人工在不在",
    "到底有没有人工",
    "我等着人工回复，快转",
    "我要跟你们的工作人员说",
    "请帮我呼叫人工",
    "呼叫人工客服",
    "转人工转人工",
    "人工服务谢谢",
    "找人工客服投诉",
    "我要人工处理退款",
    "你们的人在哪，我要跟人说",
    "要真人回答",
    "真人回复一下",
    "帮我联系一下客服人员",
    "让真正的客服来",
    "我想找个人问问",
    "能人工回复吗",
    # long ones
    "我已经在这里问了半个小时了，你一直重复一样的话，根本没有解决我的问题，我不想再跟机器人浪费时间了，请马上帮我转人工客服处理",
    "订单20261120-7731到现在都没有发货，页面上也查不到物流，问了好几次都是一样的自动回复，麻烦找个工作人员帮我看一下到底怎么回事",
)

STAFF: tuple[str, ...] = (
    # the issue's own false alarm and the brief's examples
    "你们人工客服几点下班？",
    "人工客服电话多少",
    "上次那个客服态度很好",
    "你是真人吗",
    # hours and contact details
    "人工客服几点上班",
    "周日人工客服上班吗",
    "人工客服的服务时间是几点到几点",
    "你们客服电话打不通",
    "客服热线是多少",
    "售后电话是多少",
    "售后客服几点下班",
    "你们客服微信号多少",
    "客服QQ是多少",
    "晚上十点以后还有人工吗",
    "节假日有人工客服吗",
    "你们客服几点开始上班",
    "人工客服下班了吗",
    "人工服务收费吗",
    "转人工是免费的吗",
    "人工客服会看到我的聊天记录吗",
    "在线客服和电话客服是一个部门吗",
    # who is replying
    "你是机器人吧",
    "这是机器人在回复吗",
    "你们是人工客服还是自动回复",
    "回复这么快，是真人吗",
    "你们的客服都是真人吗",
    "你们是机器人还是真人在回复",
    "你好，真人还是AI？",
    "真人客服和机器人有什么区别",
    "机器人客服能查物流吗",
    # an earlier agent: reports, praise, complaints
    "之前的客服说给我退差价",
    "昨天人工客服答应给我补发赠品",
    "刚才客服让我等通知",
    "你们的客服回复很及时，点赞",
    "客服小王服务很好，给她加鸡腿",
    "我要表扬你们的客服",
    "你们客服态度太差了",
    "刚才人工客服已经帮我解决了，谢谢",
    "跟人工客服沟通过了，问题解决了",
    "人工客服说要拍照片，我发给谁",
    "客服让我找快递，快递让我找客服",
    "我上次转人工等了半小时",
    "我是你们的老客户，之前客服都认识我",
    "客服妹子好可爱",
    # declining one
    "不用转人工了，谢谢",
    "不需要真人，你回答就行",
    "先不转人工，我再看看",
    "我不需要人工，帮我查下订单就行",
    # staff in other senses
    "机器人回答得挺好",
    "智能客服挺好用的",
    "机器人也挺聪明的嘛",
    "客服是外包的吗",
    "你们一共多少个客服",
    "客服招聘还招人吗",
    "我想应聘客服",
    "你们老板人真好",
    "哪里可以看到客服的工号",
    "怎么评价客服的服务",
    "投诉客服的渠道有哪些",
    "上次那位客服的名字叫什么",
)

SHOP: tuple[str, ...] = (
    "我的订单什么时候发货",
    "这件衣服有L码吗",
    "快递到北京要几天",
    "怎么申请退货",
    "运费险怎么理赔",
    "可以开发票吗",
    "这个颜色还有货吗",
    "优惠券怎么用不了",
    "我要退款",
    "地址填错了能改吗",
    "衣服洗了会缩水吗",
    "保质期多久",
    "能便宜点吗",
    "满减活动什么时候结束",
    "这个是正品吗",
    "怎么查物流",
    "包裹显示签收了但我没收到",
    "发错货了怎么办",
    "收到的东西坏了",
    "能加急发货吗",
    "支持七天无理由吗",
    "会员积分怎么换",
    "尺码怎么选，我身高170体重65公斤",
    "能不能用花呗分期",
    "商品和图片不一样",
    "这款是真皮吗",
    "婴儿可以用吗",
    "能不能周末送货",
    "什么时候补货",
    "退款多久到账",
    "订单号2026112700123帮我看看",
    "帮我查一下订单",
    "帮我改一下收货地址",
    # greetings and small talk
    "你好",
    "在吗",
    "有人吗",
    "谢谢",
    "好的，收到",
    # the request's characters in other senses
    "转账付款可以吗",
    "钱已经转过去了",
    "帮我转发一下物流单号",
    "充电器接口是什么类型",
    "能接受货到付款吗",
    "这个锅适合几个人用",
    "老人用这个手机方便吗",
    "可以送人吗，有礼盒包装吗",
    "收件人写错了怎么办",
    "快递员说联系不上收件人",
    "接下来还会降价吗",
    "转运到海外可以吗",
    "人造革还是真皮",
    # long ones, with and without those characters
    "我上周三在你们店里买了一件羽绒服，收到以后发现袖口有一点脱线，拉链也不太顺滑，想问一下这种情况可以换货吗，还是只能退货？",
    "你好，我想给家里老人买一台血压计，平时主要是早上起床后测一次，请问这款的误差大不大，需不需要定期校准，电池能用多久？",
    "这款空气炸锅我看详情页写的是五升，我们家三口人，一般做个鸡翅薯条什么的够不够用，另外内胆是不是不粘涂层，能不能放洗碗机洗？",
)


@dataclass(frozen=True)
class Labelled:
    text: str
    asks: bool
    group: str  # "asks" | "staff" | "shop"


MESSAGES: tuple[Labelled, ...] = (
    *(Labelled(text, True, "asks") for text in ASKS),
    *(Labelled(text, False, "staff") for text in STAFF),
    *(Labelled(text, False, "shop") for text in SHOP),
)
